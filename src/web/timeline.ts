/**
 * The session timeline's model ("Jaeger for agents"): one span per model
 * call and per tool call, folded from a session's StreamEvents in seq order,
 * as `crabtalk replay` reads the same trace. DOM-free, so it is unit-tested
 * under Bun and drawn by src/web/ui/timeline-view.ts.
 *
 * Where a span starts and how long it lasts, from the trace alone:
 * - a model call starts at the turn's `start` (the first call) or at the
 *   `toolsComplete` that handed results back (later calls), and ends at its
 *   `modelEnd`, which carries its tokens;
 * - a tool call lasts its `toolResult.durationMs` (measured by the daemon
 *   around the tool's work) and ends at the result's timestamp, so it starts
 *   durationMs earlier; until the result it runs from its `toolStart`.
 * A turn that ends without a modelEnd (error, cancel) closes its open model
 * call at the `end`. Spans still open are `running` (drawn up to now).
 * A delegate call's result lists the sessions of the tasks it started
 * (details JSON `tasks[].session`): `tasks` on its span, so the view can
 * nest their timelines under it.
 */
import type { StreamEvent, Usage } from "../protocol/gen/crabtalk.ts";
import { type TaskSession, taskSessions } from "../protocol/task-details.ts";

export interface Span {
  kind: "model" | "tool";
  /** Unique in the session: "m<seq>" for a model call (seq of the event that opened it), the call id for a tool. */
  id: string;
  /** seq of the turn's start event. */
  turn: number;
  /** Model name (known at modelEnd; the agent's until then) or tool name. */
  label: string;
  startMs: number;
  /** 0 while running. */
  durationMs: number;
  running: boolean;
  error: boolean;
  /** Model calls: their own tokens. */
  usage?: Usage;
  /** Tool calls: arguments (JSON text) and output. */
  arguments?: string;
  output?: string;
  /** Delegate calls: the task sessions they started. */
  tasks?: TaskSession[];
}

/** Folds events into spans; add() them in seq order (duplicates and older seqs are ignored). */
export class TimelineBuilder {
  readonly spans: Span[] = [];
  private lastSeq = 0;
  private turn = 0;
  private openModel: Span | null = null;
  private readonly tools = new Map<string, Span>();
  private agentModel = "";
  /** Bumped on every change, so a view redraws only when something moved. */
  version = 0;

  private waitingForStart: boolean;
  private readonly agentLabel = "model";

  /**
   * `fromTurnStart`: the events begin somewhere in the middle of the trace
   * (a window of its last events); those before the first turn start are
   * skipped, so no turn is drawn from half its events.
   */
  constructor(options: { fromTurnStart?: boolean } = {}) {
    this.agentModel = this.agentLabel;
    this.waitingForStart = options.fromTurnStart === true;
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** Returns false for an event already folded (seq not above the last one). */
  add(ev: StreamEvent): boolean {
    if (ev.seq <= this.lastSeq) return false;
    this.lastSeq = ev.seq;
    if (this.waitingForStart) {
      if (ev.event !== "start") return true;
      this.waitingForStart = false;
    }
    const ts = ev.timestampMs;
    switch (ev.event) {
      case "start":
        this.closeTurn(ts, false);
        this.turn = ev.seq;
        this.openModelCall(ev.seq, ts);
        break;
      case "toolsComplete":
        this.openModelCall(ev.seq, ts);
        break;
      case "modelEnd": {
        const m = ev.modelEnd!;
        const span = this.openModel ?? this.push(this.modelSpan(ev.seq, ts));
        span.label = m.model || span.label;
        span.usage = m.usage;
        span.durationMs = Math.max(0, ts - span.startMs);
        span.running = false;
        span.error = m.stopReason === "error";
        if (m.model) this.agentModel = m.model;
        this.openModel = null;
        break;
      }
      case "toolStart":
        for (const call of ev.toolStart!.calls) {
          const span = this.push({
            kind: "tool",
            id: call.id || `t${ev.seq}`,
            turn: this.turn,
            label: call.name,
            startMs: ts,
            durationMs: 0,
            running: true,
            error: false,
            arguments: call.arguments,
          });
          this.tools.set(span.id, span);
        }
        break;
      case "toolResult": {
        const r = ev.toolResult!;
        const announced = this.tools.get(r.callId);
        const span =
          announced ??
          this.push({
            kind: "tool",
            id: r.callId,
            turn: this.turn,
            label: r.name,
            startMs: ts - r.durationMs,
            durationMs: 0,
            running: true,
            error: false,
          });
        this.tools.delete(r.callId);
        span.durationMs = r.durationMs;
        // Work began durationMs before the result; never before the call was announced.
        span.startMs = Math.max(span.startMs, ts - r.durationMs);
        span.running = false;
        span.error = r.isError;
        span.output = r.output;
        if (r.name) span.label = r.name;
        const tasks = taskSessions(r.details);
        if (tasks.length > 0) span.tasks = tasks;
        break;
      }
      case "end":
        this.closeTurn(ts, ev.end!.stopReason === "error");
        break;
      default:
        return true;
    }
    this.version++;
    return true;
  }

  /** The session is idle (attach said no turn runs): whatever is still open was cut off (a crash). */
  settleIdle(atMs: number): void {
    if (this.openModel === null && this.tools.size === 0) return;
    this.closeTurn(atMs, true);
    this.version++;
  }

  private closeTurn(ts: number, failed: boolean): void {
    if (this.openModel) {
      const span = this.openModel;
      span.durationMs = Math.max(0, ts - span.startMs);
      span.running = false;
      span.error = failed;
      this.openModel = null;
    }
    for (const span of this.tools.values()) {
      span.durationMs = Math.max(0, ts - span.startMs);
      span.running = false;
      span.error = true;
    }
    this.tools.clear();
  }

  private openModelCall(seq: number, ts: number): void {
    this.openModel = this.push(this.modelSpan(seq, ts));
  }

  private modelSpan(seq: number, ts: number): Span {
    return {
      kind: "model",
      id: `m${seq}`,
      turn: this.turn,
      label: this.agentModel || this.agentLabel,
      startMs: ts,
      durationMs: 0,
      running: true,
      error: false,
    };
  }

  private push(span: Span): Span {
    this.spans.push(span);
    return span;
  }
}

/**
 * A span's row in the drawn timeline: nested task spans carry their depth
 * and session; every row carries the time range of its turn (a top-level
 * turn and everything nested under it), which its bar is scaled to — idle
 * hours between turns would otherwise squeeze every bar to a sliver.
 */
export interface TimelineRow {
  span: Span;
  depth: number;
  session: number;
  /** The first row of its turn. */
  turnFirst: boolean;
  range: { start: number; end: number };
}

/**
 * The rows to draw: each session's spans in order, and under every delegate
 * call the rows of its tasks' sessions (when known), one level deeper, at
 * most `maxDepth` deep (a cycle in task ids cannot loop). Running spans
 * extend their turn's range to `now`.
 */
export function timelineRows(
  session: number,
  spans: readonly Span[],
  childSpans: (session: number) => readonly Span[] | undefined,
  now = Date.now(),
  maxDepth = 4,
): TimelineRow[] {
  const rows: TimelineRow[] = [];
  const nest = (id: number, list: readonly Span[], depth: number, turnRows: TimelineRow[]) => {
    for (const span of list) {
      turnRows.push({ span, depth, session: id, turnFirst: false, range: { start: 0, end: 0 } });
      if (!span.tasks || depth >= maxDepth) continue;
      for (const task of span.tasks) {
        const child = childSpans(task.session);
        if (child) nest(task.session, child, depth + 1, turnRows);
      }
    }
  };
  let i = 0;
  while (i < spans.length) {
    const turn = spans[i]!.turn;
    let j = i;
    while (j < spans.length && spans[j]!.turn === turn) j++;
    const turnRows: TimelineRow[] = [];
    nest(session, spans.slice(i, j), 0, turnRows);
    const range = rowsExtent(turnRows, now);
    for (const r of turnRows) r.range = range;
    turnRows[0]!.turnFirst = true;
    rows.push(...turnRows);
    i = j;
  }
  return rows;
}

/** The time range rows cover; running spans extend to `now`. */
export function rowsExtent(rows: readonly { span: Span }[], now: number): { start: number; end: number } {
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const { span } of rows) {
    start = Math.min(start, span.startMs);
    end = Math.max(end, span.running ? now : span.startMs + span.durationMs);
  }
  if (!Number.isFinite(start)) return { start: now, end: now + 1 };
  return { start, end: Math.max(end, start + 1) };
}
