/**
 * Who the gateway serves: deny by default. A private chat is served when
 * its user is in allowed_users; a group message only when it comes from an
 * allowed user AND mentions the bot (@name, or a /command@name) or replies
 * to one of its messages. Everything else is dropped before any request to
 * the daemon, so a stranger costs no tokens. An empty allow list serves
 * nobody; the refused user's id is logged so the owner can add it.
 */
import type { Message } from "grammy/types";

export interface BotIdentity {
  id: number;
  username: string;
}

export type Access = { serve: true; text: string } | { serve: false; why: string; log: boolean };

export function decideAccess(msg: Message, me: BotIdentity, allowed: ReadonlySet<number>): Access {
  const from = msg.from;
  if (!from || from.is_bot) return { serve: false, why: "not from a user", log: false };
  const text = msg.text ?? msg.caption ?? "";
  const isGroup = msg.chat.type === "group" || msg.chat.type === "supergroup";
  if (isGroup) {
    const mention = `@${me.username}`.toLowerCase();
    const mentioned = text.toLowerCase().includes(mention);
    const replied = msg.reply_to_message?.from?.id === me.id;
    // Not addressed to the bot: ordinary group chatter, not worth a log line.
    if (!mentioned && !replied) return { serve: false, why: "group message not addressed to the bot", log: false };
  }
  if (!allowed.has(from.id))
    return {
      serve: false,
      why: `refused user ${from.id}${from.username ? ` (@${from.username})` : ""} in chat ${msg.chat.id}: not in allowed_users${allowed.size === 0 ? " (it is empty: nobody is served)" : ""}; add the id to serve them`,
      log: true,
    };
  return { serve: true, text: isGroup ? stripMention(text, me.username) : text };
}

/** "@bot what is x" -> "what is x"; "/new@bot" -> "/new". */
function stripMention(text: string, username: string): string {
  const escaped = username.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return text
    .replace(new RegExp(`@${escaped}\\b`, "gi"), "")
    .replace(/\s{2,}/g, " ")
    .trim();
}
