/**
 * The bus's durable queue: $CRABTALK_HOME/bus-queue.jsonl, an append-only log
 * of `add` (an event, written and fsynced before the publisher is answered),
 * `sent` (one subscription's turn started for it) and `done` (every matching
 * subscription handled). On start the log is replayed: events not done are
 * delivered to the subscriptions they were not yet sent to, so a kill -9
 * between publish and delivery delivers once on restart. The log is compacted
 * (rewritten atomically with only what is pending) when it grows.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

export interface BusEventRecord {
  id: string;
  source: string;
  payload: string;
  hops: number;
  /** "agent@source" steps that led here, oldest first. */
  chain: string[];
  at: number;
}

export interface Pending {
  event: BusEventRecord;
  /** Keys of the subscriptions already sent to. */
  sent: Set<string>;
}

type Line = { op: "add"; event: BusEventRecord } | { op: "sent"; id: string; key: string } | { op: "done"; id: string };

/** Compact once this many lines were appended since the last compaction. */
const COMPACT_AFTER = 1000;

export class DurableQueue {
  private readonly pending = new Map<string, Pending>();
  private fd: number;
  private lines = 0;

  constructor(private readonly file: string) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // First start.
    }
    for (const raw of text.split("\n")) {
      if (!raw.trim()) continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a line torn by a crash mid-append was never acknowledged
      }
      if (line.op === "add") this.pending.set(line.event.id, { event: line.event, sent: new Set() });
      else if (line.op === "sent") this.pending.get(line.id)?.sent.add(line.key);
      else this.pending.delete(line.id);
    }
    // An absent or empty log has nothing to compact: open it for appending without a rewrite and its fsync
    // (2-6 ms before the daemon's first answer, issue 20). Each add is fsynced as it is appended either way.
    this.fd = text === "" ? openSync(file, "a", 0o600) : this.compact();
  }

  /** Events not yet done, oldest first. */
  list(): Pending[] {
    return [...this.pending.values()];
  }

  get size(): number {
    return this.pending.size;
  }

  /** Appends the event and fsyncs: once this returns, a crash does not lose it. */
  add(event: BusEventRecord): Pending {
    this.append({ op: "add", event }, true);
    const p = { event, sent: new Set<string>() };
    this.pending.set(event.id, p);
    return p;
  }

  markSent(id: string, key: string): void {
    this.pending.get(id)?.sent.add(key);
    this.append({ op: "sent", id, key }, true);
  }

  markDone(id: string): void {
    if (!this.pending.delete(id)) return;
    this.append({ op: "done", id }, false);
    if (this.lines >= COMPACT_AFTER) {
      closeSync(this.fd);
      this.fd = this.compact();
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private append(line: Line, sync: boolean): void {
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
    if (sync) fsyncSync(this.fd);
    this.lines++;
  }

  /** Rewrites the log with only what is pending (temp file + rename) and opens it for appending. */
  private compact(): number {
    const out: string[] = [];
    for (const p of this.pending.values()) {
      out.push(JSON.stringify({ op: "add", event: p.event }));
      for (const key of p.sent) out.push(JSON.stringify({ op: "sent", id: p.event.id, key }));
    }
    writeFileAtomicSync(this.file, out.length ? `${out.join("\n")}\n` : "", { sync: true });
    this.lines = 0;
    return openSync(this.file, "a");
  }
}
