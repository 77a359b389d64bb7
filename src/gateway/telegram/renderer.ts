/**
 * One reply, streamed: the answer's text and a line per tool call go into
 * one Telegram message, edited at most once per interval (EditThrottle),
 * spilling into further messages at 4,096 characters (splitMessage).
 * Intermediate edits are plain text (a half-written answer is rarely valid
 * Markdown); the final pass converts to MarkdownV2 and falls back to plain
 * text for a part Telegram refuses. A 429 holds every edit until its
 * retry_after; the final text is retried until it is delivered, so it is
 * never lost to a rate limit.
 *
 * A reply resumed by a restarted gateway (resume.ts) adopts the messages
 * the previous run wrote and edits them with the whole text again; one
 * Telegram will no longer edit is replaced by a new message. `onMessages`
 * hears every new message id (the in-flight record keeps them).
 */
import type { Api } from "grammy/web";
import { toMarkdownV2 } from "./markdown.ts";
import { splitMessage, TELEGRAM_LIMIT } from "./split.ts";
import { describeTelegramError, isEntityRefusal, isNotModified, retryAfterSeconds } from "./telegram-errors.ts";
import { EditThrottle } from "./throttle.ts";

type Segment =
  | { kind: "text"; text: string }
  | { kind: "tool"; id: string; name: string; done?: { ok: boolean; ms: number } }
  | { kind: "note"; text: string };

interface Sent {
  id: number;
  text: string;
  markdown: boolean;
  /** Written by an earlier gateway run: its text is unknown, and an edit it refuses means a new message. */
  adopted?: boolean;
}

export interface RendererOptions {
  /** Messages of this reply written by an earlier run, in order. */
  adopt?: number[];
  /** Every message id of the reply, whenever a new one was sent. */
  onMessages?: (ids: number[]) => void;
}

/** Attempts at delivering the final text before giving up (each waits out its 429 or backs off). */
const FINAL_ATTEMPTS = 8;

export class ReplyRenderer {
  private readonly segments: Segment[] = [];
  private readonly sent: Sent[] = [];
  private readonly throttle: EditThrottle;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly api: Api,
    private readonly chat: number,
    intervalMs: number,
    private readonly log: (line: string) => void,
    private readonly options: RendererOptions = {},
  ) {
    this.throttle = new EditThrottle(intervalMs);
    for (const id of options.adopt ?? []) this.sent.push({ id, text: "", markdown: false, adopted: true });
  }

  /** Ids of the messages written so far, in order. */
  get messageIds(): number[] {
    return this.sent.map((s) => s.id);
  }

  /**
   * Shutdown: one last edit with what has arrived (not final: no note, no Markdown pass), then no more.
   * The turn goes on in the daemon; the next gateway run resumes the reply.
   */
  async flushPartial(): Promise<void> {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
    if (!this.render() || this.throttle.delay(Date.now()) > 0) return;
    await this.push(false).catch((err: unknown) => {
      this.log(`chat ${this.chat}: the last edit before exiting failed: ${describeTelegramError(err)}`);
    });
  }

  text(delta: string): void {
    const last = this.segments.at(-1);
    if (last?.kind === "text") last.text += delta;
    else this.segments.push({ kind: "text", text: delta });
    this.schedule();
  }

  toolStart(id: string, name: string): void {
    this.segments.push({ kind: "tool", id, name });
    this.schedule();
  }

  toolEnd(id: string, ok: boolean, ms: number): void {
    const seg = this.segments.find((s) => s.kind === "tool" && s.id === id);
    if (seg?.kind === "tool") seg.done = { ok, ms };
    this.schedule();
  }

  note(text: string): void {
    this.segments.push({ kind: "note", text });
    this.schedule();
  }

  /** The whole reply as plain text (what the split works on). */
  render(): string {
    const out: string[] = [];
    for (const s of this.segments) {
      if (s.kind === "text") out.push(s.text.trim() ? s.text : "");
      else if (s.kind === "tool")
        out.push(
          `\n${s.done ? `${s.done.ok ? "✓" : "✗"} ${s.name} ${(s.done.ms / 1000).toFixed(1)}s` : `⏳ ${s.name}`}\n`,
        );
      else out.push(`\n${s.text}\n`);
    }
    return out
      .join("")
      .replace(/\n{3,}/g, "\n\n")
      .trim();
  }

  /** Delivers the final text (Markdown where Telegram takes it); resolves when it is all on Telegram or given up. */
  async finish(): Promise<void> {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
    if (!this.render()) this.note("(no answer)");
    for (let attempt = 1; ; attempt++) {
      const wait = this.throttle.delay(Date.now());
      if (wait > 0) await Bun.sleep(wait);
      try {
        await this.push(true);
        return;
      } catch (err) {
        if (attempt >= FINAL_ATTEMPTS) {
          this.log(`chat ${this.chat}: the final reply could not be delivered: ${describeTelegramError(err)}`);
          return;
        }
        if (retryAfterSeconds(err) === null) await Bun.sleep(500 * 2 ** (attempt - 1));
      }
    }
  }

  private schedule(): void {
    if (this.timer || this.finished) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing = this.flushing.then(() => this.streamFlush());
    }, this.throttle.delay(Date.now()));
  }

  private async streamFlush(): Promise<void> {
    if (this.finished) return;
    try {
      await this.push(false);
    } catch (err) {
      // A lost intermediate edit is harmless: the next one (or the final pass) carries everything.
      if (retryAfterSeconds(err) === null) this.log(`chat ${this.chat}: edit failed: ${describeTelegramError(err)}`);
      else this.schedule();
    }
  }

  /** Sends or edits every part that differs from what Telegram shows. */
  private async push(final: boolean): Promise<void> {
    const parts = splitMessage(this.render(), TELEGRAM_LIMIT);
    for (let i = 0; i < parts.length; i++) {
      const plain = parts[i]!;
      if (!plain) continue;
      const md = final ? toMarkdownV2(plain) : null;
      const markdown = md !== null && md.length <= TELEGRAM_LIMIT;
      const have = this.sent[i];
      if (have && !have.adopted && have.text === plain && (have.markdown === markdown || !final)) continue;
      try {
        await this.deliver(i, plain, markdown ? md : null);
      } catch (err) {
        if (!markdown || !isEntityRefusal(err)) throw err;
        this.log(`chat ${this.chat}: Telegram refused the Markdown of part ${i + 1}; sent as plain text`);
        await this.deliver(i, plain, null);
      }
    }
  }

  private async deliver(i: number, plain: string, md: string | null): Promise<void> {
    const options = md ? { parse_mode: "MarkdownV2" as const } : {};
    const body = md ?? plain;
    // What Telegram now shows in message i (also when it says nothing changed).
    const shown = () => Object.assign(this.sent[i]!, { text: plain, markdown: md !== null, adopted: false });
    try {
      const have = this.sent[i];
      if (have) {
        try {
          await this.api.editMessageText(this.chat, have.id, body, options);
        } catch (err) {
          if (!have.adopted || isNotModified(err) || retryAfterSeconds(err) !== null || isEntityRefusal(err)) throw err;
          this.log(
            `chat ${this.chat}: message ${have.id} of the resumed reply cannot be edited (${describeTelegramError(err)}); sending it anew`,
          );
          await this.sendNew(i, body, options);
        }
      } else {
        await this.sendNew(i, body, options);
      }
      shown();
      this.throttle.sent(Date.now());
    } catch (err) {
      if (isNotModified(err)) {
        shown();
        return;
      }
      const retry = retryAfterSeconds(err);
      if (retry !== null) {
        this.throttle.rateLimited(Date.now(), retry);
        this.log(`chat ${this.chat}: Telegram asked to wait ${retry} s (429); edits held until then`);
      }
      throw err;
    }
  }

  /** Sends message i of the reply as a new Telegram message and reports the reply's ids. */
  private async sendNew(i: number, body: string, options: { parse_mode?: "MarkdownV2" }): Promise<void> {
    const m = await this.api.sendMessage(this.chat, body, options);
    this.sent[i] = { id: m.message_id, text: "", markdown: false };
    this.options.onMessages?.(this.sent.map((s) => s.id));
  }
}
