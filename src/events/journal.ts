/**
 * The bus journal: $CRABTALK_HOME/bus-journal.jsonl, every bus event that
 * reaches event-stream clients, numbered with a daemon-wide sequence number
 * (`BusEvent.seq`, strictly increasing across restarts), so a client that
 * was away (a gateway restarting, or not started yet) asks for the events
 * after the last seq it handled and misses none (SubscribeEvents
 * after_bus_seq).
 *
 * One JSON line per event, appended and fsynced before the event is
 * streamed, so an event a client saw is one the journal keeps. A line torn
 * by a crash mid-append is skipped on read (it was never streamed). Bounded
 * by count, age and bytes: once a bound is passed by a margin the file is
 * rewritten atomically (temp file, fsync, rename) with the newest events,
 * after a first line `{"base": N}` saying every seq up to N is gone. That
 * line keeps the numbering going when every event is trimmed, and lets a
 * cursor older than the journal be reported instead of skipped silently.
 *
 * Memory holds only each event's seq, time and size: replays read the file.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import type { BusEventRecord } from "./queue.ts";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

/** A bus event as the queue records it, numbered for event-stream cursors. */
export interface JournalEntry extends BusEventRecord {
  seq: number;
}

export interface JournalBounds {
  maxEvents: number;
  maxAgeMs: number;
  maxBytes: number;
}

export const DEFAULT_BOUNDS: JournalBounds = {
  maxEvents: 10_000,
  maxAgeMs: 7 * 24 * 3600_000,
  maxBytes: 64 * 1024 * 1024,
};

/** What a replay after a cursor holds. */
export interface Replay {
  events: JournalEntry[];
  /** Set when events after the cursor were already trimmed: seqs from..to are gone. */
  lost?: { from: number; to: number };
}

interface Kept {
  seq: number;
  at: number;
  bytes: number;
}

export class BusJournal {
  private kept: Kept[] = [];
  /** Every seq up to this one is no longer in the journal. */
  private base = 0;
  private last = 0;
  private bytes = 0;
  /** A torn or unreadable line was read: the file is rewritten before appending after it. */
  private damaged = false;
  private fd: number;

  constructor(
    private readonly file: string,
    private readonly bounds: JournalBounds = DEFAULT_BOUNDS,
    private readonly now: () => number = Date.now,
  ) {
    for (const { entry, bytes, base } of this.readLines()) {
      if (base !== undefined) {
        this.base = Math.max(this.base, base);
        this.last = Math.max(this.last, base);
      } else if (entry && entry.seq > this.last) {
        this.kept.push({ seq: entry.seq, at: entry.at, bytes });
        this.bytes += bytes;
        this.last = entry.seq;
      }
    }
    this.fd = this.trim(this.damaged);
  }

  /** The newest seq handed out (0 before the first event). */
  get lastSeq(): number {
    return this.last;
  }

  /** How many events the journal holds now. */
  get size(): number {
    return this.kept.length;
  }

  /** Numbers the event, appends it and fsyncs; returns its seq. */
  append(event: Omit<JournalEntry, "seq">): number {
    const entry: JournalEntry = { seq: this.last + 1, ...event };
    const line = `${JSON.stringify(entry)}\n`;
    const bytes = Buffer.byteLength(line);
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.last = entry.seq;
    this.kept.push({ seq: entry.seq, at: entry.at, bytes });
    this.bytes += bytes;
    if (this.overBounds(true)) {
      closeSync(this.fd);
      this.fd = this.trim(false);
    }
    return entry.seq;
  }

  /** The events after `after`, oldest first, and what was trimmed in between. */
  after(after: number): Replay {
    const lost = after < this.base ? { from: after + 1, to: this.base } : undefined;
    if (this.kept.length === 0 || this.last <= after) return lost ? { events: [], lost } : { events: [] };
    const events: JournalEntry[] = [];
    for (const { entry } of this.readLines())
      if (entry && entry.seq > after && entry.seq > this.base) events.push(entry);
    return lost ? { events, lost } : { events };
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Over a bound; `slack` lets the count and bytes run 10% over first, so trimming is not one rewrite per event. */
  private overBounds(slack: boolean): boolean {
    const f = slack ? 1.1 : 1;
    const oldest = this.kept[0];
    return (
      this.kept.length > this.bounds.maxEvents * f ||
      this.bytes > this.bounds.maxBytes * f ||
      (oldest !== undefined && this.now() - oldest.at > this.bounds.maxAgeMs * f)
    );
  }

  /** Drops the oldest events past the bounds, rewrites the file when anything was dropped (or `rewrite`), opens it for appending. */
  private trim(rewrite: boolean): number {
    let drop = 0;
    const cutoff = this.now() - this.bounds.maxAgeMs;
    let count = this.kept.length;
    let bytes = this.bytes;
    while (drop < this.kept.length) {
      const k = this.kept[drop]!;
      if (count <= this.bounds.maxEvents && bytes <= this.bounds.maxBytes && k.at >= cutoff) break;
      count--;
      bytes -= k.bytes;
      drop++;
    }
    if (drop > 0 || rewrite) {
      if (drop > 0) this.base = this.kept[drop - 1]!.seq;
      const keep = new Set(this.kept.slice(drop).map((k) => k.seq));
      const lines = [JSON.stringify({ base: this.base })];
      for (const { entry } of this.readLines()) if (entry && keep.has(entry.seq)) lines.push(JSON.stringify(entry));
      this.kept = this.kept.slice(drop);
      this.bytes = bytes;
      writeFileAtomicSync(this.file, `${lines.join("\n")}\n`, { sync: true });
      this.damaged = false;
    }
    return openSync(this.file, "a", 0o600);
  }

  private *readLines(): Generator<{ entry?: JournalEntry; base?: number; bytes: number }> {
    let text = "";
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return; // first start
    }
    if (text && !text.endsWith("\n")) this.damaged = true;
    for (const raw of text.split("\n")) {
      if (!raw.trim()) continue;
      let parsed: Partial<JournalEntry> & { base?: number };
      try {
        parsed = JSON.parse(raw) as Partial<JournalEntry> & { base?: number };
      } catch {
        this.damaged = true;
        continue; // torn by a crash mid-append: never fsynced, so never streamed
      }
      const bytes = Buffer.byteLength(raw) + 1;
      if (typeof parsed.base === "number") yield { base: parsed.base, bytes };
      else if (typeof parsed.seq === "number") yield { entry: parsed as JournalEntry, bytes };
    }
  }
}
