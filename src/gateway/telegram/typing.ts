/**
 * The "typing…" indicator while a turn works: Telegram shows a chat action
 * for about five seconds, so it is repeated every four until stopped.
 * Failures are ignored: the indicator is a courtesy, never worth a retry.
 */
import type { Api } from "grammy/web";

const REPEAT_MS = 4000;

export function startTyping(api: Api, chat: number): () => void {
  const send = () => void api.sendChatAction(chat, "typing").catch(() => {});
  send();
  const timer = setInterval(send, REPEAT_MS);
  return () => clearInterval(timer);
}
