/**
 * Delivery of bus events to chats (`notify = { "<source glob>" = chat }`).
 * The gateway's event stream (gateway.ts) hands over bus events, each with
 * the daemon's bus seq; those whose source matches an entry are delivered.
 *
 * The cursor: the outbox file (gateways/telegram/notify-<bot id>.json,
 * written whole and atomically) holds the last bus seq taken in, and the
 * gateway subscribes after it (SubscribeEvents after_bus_seq), so events
 * published while it was down or starting are replayed from the daemon's
 * journal. An event is taken in by writing it to the pending list together
 * with the advanced cursor (one atomic write), and only then sent; once
 * Telegram has it, it moves to the delivered list (one more write). So a
 * gateway killed before sending sends it when it starts again (nothing
 * lost), and an event taken in is never taken in twice (nothing repeated).
 * One window stays at-least-once: killed after Telegram accepted a message
 * but before the delivered write, the gateway sends it again on start (the
 * Bot API has no idempotency key and a bot cannot read its chat back to
 * check). Telegram errors are retried with backoff.
 *
 * First start (no cursor yet): the journal is replayed from the start but
 * only events published since `since` (the daemon's start) are delivered,
 * so a new gateway does not flood a chat with a week of old events.
 */
import type { Api } from "grammy/web";
import { readJson, writeJsonAtomic } from "./json-file.ts";
import { splitMessage } from "./split.ts";
import { describeTelegramError, retryAfterSeconds } from "./telegram-errors.ts";
import { globMatch } from "../../util/glob.ts";

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
  /** The last bus seq taken in (delivered, pending or not routed); absent before the first. */
  cursor?: number;
}

/** Events no route matches move the cursor too; that write waits this long, so a burst is one write. */
const IDLE_CURSOR_SAVE_MS = 1000;

const DELIVERED_KEPT = 1000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;

/** "cron:*:done" matches "cron:brief:done"; `*` is any run of characters. */
export const sourceMatches = globMatch;

export class NotifyDelivery {
  private readonly box: Outbox;
  private running = false;
  private stopped = false;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  /** No cursor was saved before this process: events older than `since` are passed over. */
  private readonly firstStart: boolean;

  constructor(
    private readonly api: Api,
    private readonly routes: ReadonlyMap<string, number>,
    private readonly file: string,
    private readonly log: (line: string) => void,
  ) {
    this.box = readJson<Outbox>(file, { pending: [], delivered: [] });
    this.firstStart = this.box.cursor === undefined;
  }

  /** Sends what a previous run left in the outbox. */
  start(): void {
    void this.drain();
  }

  stop(): void {
    this.stopped = true;
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      this.save();
    }
  }

  /** The seq to subscribe after; undefined on the first start (see the header). */
  get cursor(): number | undefined {
    return this.box.cursor;
  }

  /**
   * A bus event seen on the daemon's event stream (replayed or live, in seq order). `since`: on the first
   * start, events published before it are passed over (the cursor moves past them all the same).
   */
  offer(event: { seq: number; id: string; source: string; payload: string; at: number }, since: number): void {
    const { seq, id, source, payload } = event;
    if (this.box.cursor !== undefined && seq <= this.box.cursor) return;
    this.box.cursor = seq;
    const known = this.box.delivered.includes(id) || this.box.pending.some((p) => p.id === id);
    const route = known || (this.firstStart && event.at < since) ? undefined : this.routeOf(source);
    if (route === undefined) {
      this.saveLater();
      return;
    }
    this.box.pending.push({ id, source, payload, chat: route });
    this.save();
    void this.drain();
  }

  private routeOf(source: string): number | undefined {
    for (const [pattern, chat] of this.routes) if (sourceMatches(pattern, source)) return chat;
    return undefined;
  }

  private saveLater(): void {
    if (this.saveTimer || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, IDLE_CURSOR_SAVE_MS);
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
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    writeJsonAtomic(this.file, this.box);
  }
}
