/**
 * Approve / Deny buttons for a tool under `ask`. The gateway is the
 * turn's approver (`client:<its name>`), so the daemon sends it the
 * ApprovalRequest; a press by an allowed user answers ApproveMsg for that
 * session and call id. Callback data carries a short token (Telegram allows
 * 64 bytes; call ids can be longer). No press before the daemon's approval
 * timeout means deny: the daemon decides that, and the prompt then says so.
 */
import type { Api } from "grammy/web";
import type { CallbackQuery } from "grammy/types";
import type { CrabtalkClient } from "../../client/client.ts";
import type { ApprovalRequest } from "../../protocol/gen/crabtalk.ts";
import { describeTelegramError } from "./telegram-errors.ts";

interface Pending {
  chat: number;
  messageId: number;
  session: number;
  callId: string;
  tool: string;
}

/** Open prompts kept at once: each is a message a user can still press; older ones are answered by the daemon's timeout. */
const MAX_PENDING = 200;

export class Approvals {
  private readonly pending = new Map<string, Pending>();
  private next = 1;

  constructor(
    private readonly api: Api,
    private readonly daemon: CrabtalkClient,
    private readonly log: (line: string) => void,
  ) {}

  async prompt(chat: number, req: ApprovalRequest): Promise<void> {
    const token = (this.next++).toString(36);
    const args = req.arguments.length > 600 ? `${req.arguments.slice(0, 600)}…` : req.arguments;
    const seconds = Math.round(Number(req.timeoutMs) / 1000);
    const text = `🔐 ${req.tool} wants to run:\n${args}\n\nNo answer within ${seconds} s = deny.`;
    const m = await this.api.sendMessage(chat, text, {
      reply_markup: {
        inline_keyboard: [
          [
            { text: "Approve", callback_data: `ap:${token}:y` },
            { text: "Deny", callback_data: `ap:${token}:n` },
          ],
        ],
      },
    });
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(token, {
      chat,
      messageId: m.message_id,
      session: Number(req.session),
      callId: req.callId,
      tool: req.tool,
    });
  }

  /** A button press (already checked to come from an allowed user). */
  async press(q: CallbackQuery): Promise<void> {
    const m = /^ap:([0-9a-z]+):([yn])$/.exec(q.data ?? "");
    const found = m ? this.pending.get(m[1]!) : undefined;
    // A press answers only the prompt on that very message, in its own chat.
    const p =
      found && q.message?.chat.id === found.chat && q.message.message_id === found.messageId ? found : undefined;
    if (!m || !p) {
      await this.api.answerCallbackQuery(q.id, { text: "This prompt is no longer open." }).catch(() => {});
      return;
    }
    this.pending.delete(m[1]!);
    const allow = m[2] === "y";
    let outcome = allow ? `✓ approved ${p.tool}` : `✗ denied ${p.tool}`;
    try {
      await this.daemon.request({
        approve: {
          taskId: 0,
          callId: p.callId,
          session: p.session,
          response: allow ? "allow" : "deny",
          ...(allow ? {} : { reason: "denied by the user in Telegram" }),
        },
      });
    } catch (err) {
      outcome = `${p.tool}: too late (${(err as Error).message})`;
    }
    await this.api.answerCallbackQuery(q.id, { text: outcome }).catch(() => {});
    await this.close(p, outcome);
  }

  /** The call ended (ran, denied or timed out): a prompt still open is closed with why. */
  async settled(session: number, callId: string): Promise<void> {
    for (const [token, p] of this.pending) {
      if (p.session !== session || p.callId !== callId) continue;
      this.pending.delete(token);
      await this.close(p, `✗ ${p.tool}: no answer in time, denied`);
    }
  }

  private async close(p: Pending, outcome: string): Promise<void> {
    await this.api
      .editMessageText(p.chat, p.messageId, outcome, { reply_markup: { inline_keyboard: [] } })
      .catch((err: unknown) =>
        this.log(`chat ${p.chat}: closing an approval prompt failed: ${describeTelegramError(err)}`),
      );
  }
}
