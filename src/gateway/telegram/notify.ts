/**
 * Delivery of bus events to chats (`notify = { "<source glob>" = chat }`).
 * The gateway's event stream (gateway.ts) hands over bus events; those
 * whose source matches an entry are delivered. Each one is first written to the outbox
 * (gateways/telegram/notify-<bot id>.json, atomically) and only then sent;
 * once Telegram has it, its id moves to the delivered list in the same
 * file. So a gateway killed before sending sends it when it starts again
 * (nothing lost), and an event id already delivered is never sent twice
 * (nothing repeated). Telegram errors are retried with backoff.
 *
 * The daemon streams bus events live only: an event published while the
 * gateway is down never reaches it (see the README).
 */
import type { Api } from "grammy/web";
import { readJson, writeJsonAtomic } from "./json-file.ts";
import { splitMessage } from "./split.ts";
import { describeTelegramError, retryAfterSeconds } from "./telegram-errors.ts";

interface Item {
  id: string;
  source: string;
  payload: string;
  chat: number;
}

interface Outbox {
  pending: Item[];
  /** Ids of events sent, newest last; bounded (ids are unique, so a short memory suffices). */
  delivered: string[];
}

const DELIVERED_KEPT = 1000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;

/** "cron:*:done" matches "cron:brief:done"; `*` is any run of characters. */
export function sourceMatches(pattern: string, source: string): boolean {
  if (!pattern.includes("*")) return pattern === source;
  const re = pattern
    .split("*")
    .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${re}$`).test(source);
}

export class NotifyDelivery {
  private readonly box: Outbox;
  private running = false;
  private stopped = false;

  constructor(
    private readonly api: Api,
    private readonly routes: ReadonlyMap<string, number>,
    private readonly file: string,
    private readonly log: (line: string) => void,
  ) {
    this.box = readJson<Outbox>(file, { pending: [], delivered: [] });
  }

  /** Sends what a previous run left in the outbox. */
  start(): void {
    void this.drain();
  }

  stop(): void {
    this.stopped = true;
  }

  /** A bus event seen on the daemon's event stream. */
  offer(id: string, source: string, payload: string): void {
    if (this.routes.size === 0) return;
    const known = this.box.delivered.includes(id) || this.box.pending.some((p) => p.id === id);
    if (known) return;
    let added = false;
    for (const [pattern, chat] of this.routes) {
      if (!sourceMatches(pattern, source)) continue;
      this.box.pending.push({ id, source, payload, chat });
      added = true;
      break;
    }
    if (!added) return;
    this.save();
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let backoff = BACKOFF_FIRST_MS;
    while (!this.stopped && this.box.pending.length > 0) {
      const item = this.box.pending[0]!;
      try {
        const text = item.payload.trim() ? item.payload : `(${item.source})`;
        for (const part of splitMessage(`🔔 ${item.source}\n${text}`)) await this.api.sendMessage(item.chat, part);
        this.box.pending.shift();
        this.box.delivered.push(item.id);
        if (this.box.delivered.length > DELIVERED_KEPT)
          this.box.delivered.splice(0, this.box.delivered.length - DELIVERED_KEPT);
        this.save();
        backoff = BACKOFF_FIRST_MS;
      } catch (err) {
        const retry = retryAfterSeconds(err);
        const wait = retry !== null ? retry * 1000 : backoff;
        this.log(`notify ${item.source} -> chat ${item.chat}: ${describeTelegramError(err)}; retrying in ${wait} ms`);
        await Bun.sleep(wait);
        if (retry === null) backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      }
    }
    this.running = false;
  }

  private save(): void {
    writeJsonAtomic(this.file, this.box);
  }
}
