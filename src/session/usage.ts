/**
 * Token accounting: usage per day, agent and model, and the daily budget.
 * Every model call's usage is recorded as it completes, so a budget holds
 * even mid-turn. Days are local dates and reset at local midnight.
 *
 * Persistence: one append-only file per day ($CRABTALK_HOME/usage/DAY.jsonl,
 * a line per model call), so a restart keeps today's count and start-up
 * reads only today's file, however long the daemon has run. The in-memory
 * twin (no dir) keeps counts for tests.
 *
 * Today's file stays open for appending (a record is then one write on the
 * caller's thread, not open, write and close) until the day changes or
 * close(); a failed write closes it, so the next record opens it afresh.
 *
 * Today's file is read on first use (a budget check, a record, a report),
 * not when the ledger is built: the first local-time Date call of a process
 * initialises the time zone (~3.5 ms, and 3.5 MB of ICU data resident),
 * which the daemon's start-up, before its first answer, does not need to
 * pay (issue 20). The first turn pays it while its model call is out
 * (warmSoon), not in the middle of its answer when the call's usage is
 * recorded.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { addUsage, emptyUsage, totalTokens, type Usage } from "../provider/types.ts";

export function localDay(at: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function nextLocalMidnight(at: number): number {
  const d = new Date(at);
  d.setHours(24, 0, 0, 0);
  return d.getTime();
}

export interface UsageRow {
  agent: string;
  model: string;
  usage: Usage;
  calls: number;
}

export class UsageLedger {
  /** The local day the rows count; undefined until first use (see the file comment). */
  private day: string | undefined;
  private rows = new Map<string, UsageRow>();
  /** Today's file, open for appending once something was recorded. */
  private file: { day: string; fd: number } | undefined;
  /** A warmSoon is scheduled. */
  private warming = false;

  constructor(
    private readonly dir: string | null,
    public dailyLimit: number | undefined,
    private readonly now: () => number = Date.now,
  ) {
    if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Loads today's file on the next pass of the event loop, when nothing did yet: called as a turn's model
   * request goes out, so the first use's cost (see the file comment) falls while the model is thinking.
   */
  warmSoon(): void {
    if (this.day !== undefined || this.warming) return;
    this.warming = true;
    setImmediate(() => {
      this.warming = false;
      this.rollover();
    });
  }

  /** Today's local day, with its file loaded: on first use and again after each local midnight. */
  private rollover(): string {
    const today = localDay(this.now());
    if (today === this.day) return today;
    this.day = today;
    this.rows = new Map();
    this.loadDay(today);
    return today;
  }

  private loadDay(day: string): void {
    if (!this.dir) return;
    const file = join(this.dir, `${day}.jsonl`);
    if (!existsSync(file)) return;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as { agent: string; model: string; usage: Usage };
        this.add(r.agent, r.model, r.usage);
      } catch {
        // A torn last line from a crash: that one call is not counted.
      }
    }
  }

  private add(agent: string, model: string, usage: Usage): void {
    const key = `${agent}\u0000${model}`;
    const row = this.rows.get(key) ?? { agent, model, usage: emptyUsage(), calls: 0 };
    row.usage = addUsage(row.usage, usage);
    row.calls++;
    this.rows.set(key, row);
  }

  record(agent: string, model: string, usage: Usage): void {
    const day = this.rollover();
    this.add(agent, model, usage);
    if (!this.dir) return;
    if (this.file?.day !== day) {
      this.close();
      this.file = { day, fd: openSync(join(this.dir, `${day}.jsonl`), "a", 0o600) };
    }
    try {
      writeSync(this.file.fd, `${JSON.stringify({ ts: this.now(), agent, model, usage })}\n`);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Closes today's file; a later record opens it again. */
  close(): void {
    if (!this.file) return;
    const { fd } = this.file;
    this.file = undefined;
    try {
      closeSync(fd);
    } catch {
      // Closing can only fail for a descriptor that is already gone.
    }
  }

  usedToday(): number {
    this.rollover();
    let sum = 0;
    for (const r of this.rows.values()) sum += totalTokens(r.usage);
    return sum;
  }

  /** Tokens left today, or undefined when there is no daily budget. */
  remainingToday(): number | undefined {
    if (this.dailyLimit === undefined) return undefined;
    return Math.max(0, this.dailyLimit - this.usedToday());
  }

  resetsAt(): number {
    return nextLocalMidnight(this.now());
  }

  today(): { day: string; rows: UsageRow[] } {
    const day = this.rollover();
    return {
      day,
      rows: [...this.rows.values()].sort((a, b) => a.agent.localeCompare(b.agent) || a.model.localeCompare(b.model)),
    };
  }
}
