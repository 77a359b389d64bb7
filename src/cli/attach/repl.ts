/**
 * The attach REPL: one session across turns, rendered live. Every event,
 * whether it comes from this client's own turn (StreamMsg) or from the
 * session's attach stream (AttachSession, which also carries other
 * clients' turns), goes through `deliver`, which renders each sequence
 * number once: both sources are complete and in order, so "skip what is
 * at or below the last seq seen" is exact.
 *
 * The connection is expected to break (daemon restart, upgrade): attach
 * reconnects with backoff, says so, and re-attaches after the last seq it
 * rendered, so the turn on screen continues with nothing missing. A turn
 * the daemon lost in the restart is reported as interrupted.
 */
import { TasksView } from "./tasks-view.ts";
import { CrabtalkClient, DaemonError, DaemonNotRunning, Disconnected } from "../../client/client.ts";
import type { StreamEvent } from "../../protocol/gen/crabtalk.ts";
import type { EndpointOptions } from "../../client/endpoint.ts";
import type { TurnRenderer } from "../render/turn.ts";
import { oneLine, type Style } from "../render/style.ts";
import type { TerminalInput } from "./input.ts";
import { CatchUp } from "./catch-up.ts";

export interface ReplOptions {
  endpoint: EndpointOptions;
  agent: string;
  session?: number;
  input: TerminalInput;
  renderer: TurnRenderer;
  style: Style;
  out: (text: string) => void;
}

interface ActiveTurn {
  /** Started by this REPL (vs. another client's turn we are watching). */
  own: boolean;
  sawStart: boolean;
  cancelSent: boolean;
  interrupts: number;
  done: Promise<void>;
  finish: () => void;
}

/** Reconnect backoff: quick at first (a restart takes well under a second), then every 2 s, forever. */
const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000];
/** After a reconnect, how long a turn the daemon no longer runs may take to deliver its end from the trace. */
const INTERRUPTED_GRACE_MS = 1500;

export class AttachRepl {
  client: CrabtalkClient | null = null;
  private tasksView: TasksView | null = null;
  agent: string;
  session: number | null;
  lastSeq = 0;
  turn: ActiveTurn | null = null;
  private daemonPid = 0;
  private attachGeneration = 0;
  private reconnecting: Promise<void> | null = null;
  private closing = false;
  private catchUp: CatchUp | null = null;
  private readonly approvalQueue: StreamEvent[] = [];
  private approvalAbort = new AbortController();
  private answering = false;
  sawCompaction = false;

  constructor(private readonly opts: ReplOptions) {
    this.agent = opts.agent;
    this.session = opts.session ?? null;
  }

  get renderer(): TurnRenderer {
    return this.opts.renderer;
  }

  /** Prints a notice line where it reads best: above the prompt, or between turn output. */
  say(text: string): void {
    if (this.opts.input.prompting) this.opts.input.printAbove(`${text}\n`);
    else this.renderer.notice(text);
  }

  async connect(): Promise<void> {
    const client = await CrabtalkClient.connect(this.opts.endpoint);
    this.client = client;
    void client.closedPromise.then(() => this.lost(client));
    // Delegated tasks of the watched session's turns get live lines (agent, tool calls, elapsed).
    this.tasksView?.stop();
    this.tasksView = new TasksView(client, this.renderer, () => this.session);
    this.tasksView.start();
    try {
      const status = await client.request({ status: {} });
      this.daemonPid = status.status?.pid ?? 0;
    } catch {
      this.daemonPid = 0;
    }
  }

  /** Requests that may fail because the daemon is away: the failure becomes a notice. */
  async request(
    req: Parameters<CrabtalkClient["request"]>[0],
  ): Promise<Awaited<ReturnType<CrabtalkClient["request"]>> | null> {
    if (!this.client) {
      this.say(this.opts.style.paint("yellow", "not connected to the daemon; reconnecting…"));
      return null;
    }
    try {
      return await this.client.request(req);
    } catch (err) {
      if (err instanceof DaemonError) this.say(this.opts.style.paint("red", `✗ ${err.message}`));
      else if (err instanceof Disconnected)
        this.say(this.opts.style.paint("yellow", "the daemon went away before answering"));
      else throw err;
      return null;
    }
  }

  /** Watches a session: `afterSeq` undefined means "show the turn in flight, if any" (catch-up), else replay after it. */
  watch(session: number, afterSeq?: number): Promise<void> {
    const client = this.client;
    const generation = ++this.attachGeneration;
    if (!client) return Promise.resolve();
    let catchUp: CatchUp | null = null;
    if (afterSeq === undefined) {
      catchUp = new CatchUp((openTurn, maxSeq) => this.caughtUp(openTurn, maxSeq));
      this.catchUp = catchUp;
    }
    void (async () => {
      try {
        for await (const reply of client.stream({ attach: { session, afterSeq: afterSeq ?? 0 } })) {
          if (generation !== this.attachGeneration) return;
          if (reply.attached) {
            catchUp?.expect(reply.attached.lastSeq);
            continue;
          }
          const ev = reply.stream;
          if (!ev) continue;
          if (catchUp && !catchUp.done) catchUp.push(ev);
          else this.deliver(ev);
        }
      } catch (err) {
        if (generation !== this.attachGeneration) return;
        // 408: this client fell behind and was dropped; pick up where it stopped.
        if (err instanceof DaemonError && err.code === 408) return void this.watch(session, this.lastSeq);
        if (err instanceof DaemonError)
          this.say(this.opts.style.paint("red", `✗ cannot watch session ${session}: ${err.message}`));
      } finally {
        catchUp?.finish();
      }
    })();
    return catchUp ? catchUp.settled : Promise.resolve();
  }

  stopWatching(): void {
    this.attachGeneration++;
    this.catchUp?.finish();
    this.catchUp = null;
  }

  /** The catch-up replay settled: `events` is the turn still open in the trace (empty if none). */
  private caughtUp(openTurn: StreamEvent[], maxSeq: number): void {
    this.lastSeq = Math.max(this.lastSeq, maxSeq);
    if (openTurn.length === 0) return;
    this.lastSeq = openTurn[0]!.seq - 1;
    for (const ev of openTurn) this.deliver(ev);
  }

  /** Renders each sequence number once, whichever stream brings it first. */
  deliver(ev: StreamEvent): void {
    if (ev.seq) {
      if (ev.seq <= this.lastSeq) return;
      this.lastSeq = ev.seq;
    }
    if (ev.event === "start" && !this.turn) this.watchForeignTurn(ev);
    if (ev.event === "compaction") this.sawCompaction = true;
    if (!this.turn) {
      // Between turns only compaction is worth showing (automatic, after a turn).
      if (ev.event === "compaction")
        this.say(
          this.opts.style.paint(
            "dim",
            `⟳ history compacted: ${ev.compaction!.tokensBefore} → ${ev.compaction!.tokensAfter} tokens`,
          ),
        );
      return;
    }
    if (ev.event === "start") this.turn.sawStart = true;
    this.renderer.event(ev);
    if (ev.event === "approval") this.queueApproval(ev);
    if (ev.event === "end") this.endTurn();
  }

  private watchForeignTurn(ev: StreamEvent): void {
    this.opts.input.suspend();
    this.turn = this.newTurn(false);
    this.opts.input.watchKeys(() => this.interrupt());
    this.renderer.notice(
      this.opts.style.paint("magenta", `── turn from ${oneLine(ev.start?.sender || "another client")} ──`),
    );
    void this.turn.done.then(() => {
      this.opts.input.unwatchKeys();
      this.opts.input.resume();
    });
  }

  private newTurn(own: boolean): ActiveTurn {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    return { own, sawStart: false, cancelSent: false, interrupts: 0, done, finish };
  }

  endTurn(): void {
    const turn = this.turn;
    if (!turn) return;
    this.turn = null;
    this.approvalAbort.abort();
    this.approvalAbort = new AbortController();
    this.approvalQueue.length = 0;
    turn.finish();
  }

  /** Runs one turn of ours to its end (or until given up), rendering as it goes. */
  async runTurn(content: string): Promise<void> {
    const turn = this.newTurn(true);
    this.turn = turn;
    this.renderer.begin();
    this.opts.input.watchKeys(() => this.interrupt());
    void this.streamTurn(content, turn);
    await turn.done;
    this.opts.input.unwatchKeys();
  }

  private async streamTurn(content: string, turn: ActiveTurn): Promise<void> {
    const client = this.client;
    if (!client) {
      this.renderer.abandon();
      this.say(
        this.opts.style.paint("yellow", "not connected to the daemon; your message was not sent (reconnecting…)"),
      );
      return this.endTurn();
    }
    try {
      const session = this.session ?? undefined;
      for await (const reply of client.stream({
        stream: { agent: session ? "" : this.agent, content, session, sender: "cli" },
      })) {
        const ev = reply.stream;
        if (!ev) continue;
        if (ev.event === "start" && this.session === null) {
          this.session = ev.start!.session;
          this.lastSeq = ev.seq - 1;
          this.deliver(ev);
          void this.watch(this.session, ev.seq);
          continue;
        }
        if (this.turn === turn) this.deliver(ev);
      }
    } catch (err) {
      if (err instanceof Disconnected) return; // lost() takes over
      if (!(err instanceof DaemonError)) throw err;
      if (this.turn !== turn) return;
      if (turn.sawStart) {
        // A failed turn ends with ErrorMsg here; the attach stream brings its end event with the details.
        setTimeout(() => {
          if (this.turn !== turn) return;
          this.renderer.abandon();
          this.say(this.opts.style.paint("red", `✗ ${err.message}`));
          this.endTurn();
        }, 1000);
        return;
      }
      this.renderer.abandon();
      this.say(this.opts.style.paint("red", `✗ ${err.message}`));
      this.endTurn();
    }
  }

  /** Ctrl-C during a turn: first asks the daemon to cancel it; a second one stops watching. */
  interrupt(): void {
    const turn = this.turn;
    if (!turn) return;
    turn.interrupts++;
    if (turn.interrupts >= 2 || this.session === null || !this.client) {
      this.renderer.abandon("stopped watching");
      this.say(this.opts.style.paint("yellow", "stopped watching; the turn may still finish on the daemon"));
      return this.endTurn();
    }
    turn.cancelSent = true;
    this.say(this.opts.style.paint("yellow", "cancelling… (Ctrl-C again to stop waiting)"));
    void this.client.request({ cancel: { session: this.session } }).catch((err: unknown) => {
      if (this.turn !== turn) return;
      const why = err instanceof Error ? err.message : String(err);
      this.renderer.abandon();
      this.say(this.opts.style.paint("yellow", `cancel: ${why}`));
      this.endTurn();
    });
  }

  private queueApproval(ev: StreamEvent): void {
    this.approvalQueue.push(ev);
    if (!this.answering) void this.answerApprovals();
  }

  private async answerApprovals(): Promise<void> {
    this.answering = true;
    try {
      for (let ev = this.approvalQueue.shift(); ev; ev = this.approvalQueue.shift()) {
        const a = ev.approval!;
        const { style } = this.opts;
        this.renderer.hold(true);
        const answer = await this.opts.input.ask(
          `  ${style.paint("yellow", "allow")} ${a.tool}? ${style.paint("bold", "[y/N]")} `,
          this.approvalAbort.signal,
        );
        this.renderer.hold(false);
        if (answer === null) continue;
        const allow = /^\s*(y|yes|allow|a)\s*$/i.test(answer);
        const reply = await this.request({
          approve: {
            callId: a.callId,
            response: allow ? "allow" : "deny",
            session: ev.session || this.session || undefined,
            taskId: 0,
          },
        });
        if (reply)
          this.say(style.paint(allow ? "green" : "yellow", allow ? `  allowed ${a.tool}` : `  denied ${a.tool}`));
      }
    } finally {
      this.answering = false;
    }
  }

  /** The connection closed: reconnect (forever, with backoff) unless we are leaving. */
  private lost(client: CrabtalkClient): void {
    if (this.closing || this.client !== client) return;
    this.client = null;
    this.stopWatching();
    this.reconnecting ??= this.reconnect().finally(() => (this.reconnecting = null));
  }

  private async reconnect(): Promise<void> {
    const { style } = this.opts;
    this.say(style.paint("yellow", "⚡ lost the connection to the daemon; reconnecting…"));
    const oldPid = this.daemonPid;
    for (let attempt = 0; !this.closing; attempt++) {
      await Bun.sleep(RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]!);
      try {
        await this.connect();
        break;
      } catch (err) {
        if (!(err instanceof DaemonNotRunning) && !(err instanceof Disconnected))
          this.say(style.paint("red", `reconnect failed: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
    if (this.closing) return;
    const restarted = oldPid !== 0 && this.daemonPid !== oldPid;
    this.say(
      style.paint("green", restarted ? `✓ reconnected: the daemon restarted (pid ${this.daemonPid})` : "✓ reconnected"),
    );
    if (this.session === null) {
      if (this.turn) {
        this.renderer.abandon();
        this.say(
          style.paint("yellow", "the message was lost with the connection before the daemon started it; send it again"),
        );
        this.endTurn();
      }
      return;
    }
    void this.watch(this.session, this.lastSeq);
    const turn = this.turn;
    if (!turn) return;
    const list = await this.request({ sessions: { agent: this.agent, offset: 0, limit: 100 } });
    const info = list?.sessions?.sessions.find((s) => s.id === this.session);
    if (info?.running) return;
    setTimeout(() => {
      if (this.turn !== turn) return;
      this.renderer.abandon();
      this.say(
        style.paint("yellow", "the turn was interrupted when the daemon stopped; its partial result is in the session"),
      );
      this.endTurn();
    }, INTERRUPTED_GRACE_MS);
  }

  close(): void {
    this.closing = true;
    this.stopWatching();
    this.renderer.dispose();
    this.client?.close();
  }
}
