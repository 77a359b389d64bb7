/**
 * Session requests: list, history, kill, delete, compact, search, attach,
 * the global event subscription and token usage.
 */
import type { HandlerTable, Reply } from "../router.ts";
import type { SessionRuntime } from "../../session/runtime.ts";
import { SlowSubscriber, SUBSCRIPTION_CAPACITY, type SessionEvent, type Subscription } from "../../session/bus.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import { historyMessage, sessionInfo, wireUsage } from "../../session/wire.ts";
import type { EventRecord } from "../../store/types.ts";
import type { StreamEvent } from "../../protocol/gen/crabtalk.ts";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

/** A trace record read back from the store, in the shape it was published. */
export function eventFromRecord(r: EventRecord, session: number, agent: string): SessionEvent {
  const kind = r.event.type as NonNullable<StreamEvent["event"]>;
  return {
    agent,
    session,
    seq: r.event.seq,
    turn: typeof r.event.turn === "number" ? r.event.turn : 0,
    ts: r.ts,
    kind,
    event: { [kind]: r.event.data ?? {}, seq: r.event.seq, session, timestampMs: r.ts },
  };
}

/** Ends the subscription when the client goes away, including before it was made (a disconnect during an await). */
function closeOnAbort(signal: AbortSignal, sub: Subscription): void {
  if (signal.aborted) sub.close();
  else signal.addEventListener("abort", () => sub.close(), { once: true });
}

/** AgentEvent.kind is the proto case name ("tool_start"), not the TS field name ("toolStart"). */
function caseName(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function sessionHandlers(runtime: SessionRuntime): HandlerTable {
  const { store } = runtime.deps;
  return {
    sessions: async (req) => {
      const limit = Math.min(req.limit || DEFAULT_PAGE, MAX_PAGE);
      const page = await runtime.listSessions({ agent: req.agent || undefined, offset: req.offset, limit });
      return {
        sessions: { total: page.total, sessions: page.sessions.map((s) => sessionInfo(s, runtime.isLive(s.id))) },
      };
    },

    getHistory: async (req) => {
      const loaded = await runtime.loadStored(req.session);
      return {
        history: { session: req.session, agent: loaded.meta.agent, messages: loaded.allMessages.map(historyMessage) },
      };
    },

    kill: async (req) => {
      if (!(await runtime.kill(req.session)))
        throw new WireError(ErrorCode.NotFound, `session ${req.session} not found`);
      return { ack: { message: `session ${req.session} ended; its history stays on disk` } };
    },

    deleteSession: async (req) => {
      if (!(await runtime.delete(req.session)))
        throw new WireError(ErrorCode.NotFound, `session ${req.session} not found`);
      return { ack: { message: `session ${req.session} deleted` } };
    },

    compact: async (req) => {
      const { tokensBefore, tokensAfter } = await runtime.compact(req.session);
      return { stream: { session: req.session, compaction: { tokensBefore, tokensAfter } } };
    },

    searchSessions: async (req) => {
      if (!req.query.trim()) throw new WireError(ErrorCode.BadRequest, "search needs words to look for");
      const hits = await store.search(req.query, { limit: req.limit || 20 });
      return {
        searchResults: {
          hits: hits.map((h) => ({
            session: h.session,
            agent: h.agent,
            role: h.role,
            snippet: h.snippet,
            score: h.score,
            timestampMs: h.ts,
          })),
        },
      };
    },

    usage: () => {
      const { usage } = runtime.deps;
      const today = usage.today();
      return {
        usage: {
          day: today.day,
          rows: today.rows.map((r) => ({ agent: r.agent, model: r.model, usage: wireUsage(r.usage), turns: r.calls })),
          dailyLimit: usage.dailyLimit ?? 0,
          usedToday: usage.usedToday(),
          resetsAtMs: usage.resetsAt(),
        },
      };
    },

    subscribeEvents: (req, ctx) => {
      const sub = runtime.bus.subscribe({ agent: req.agent || undefined });
      closeOnAbort(ctx.signal, sub);
      return (async function* (): AsyncGenerator<Reply> {
        try {
          for await (const e of sub) {
            yield {
              event: {
                agent: e.agent,
                session: e.session,
                kind: caseName(e.kind),
                payload: e.event,
                timestampMs: e.ts,
              },
            };
          }
        } finally {
          sub.close();
        }
      })();
    },

    /*
     * The seam: subscribe first, so every event published from then on
     * reaches `sub`; flush the live session's batched deltas, so every event
     * published before is in the trace (a session not in memory has nothing
     * pending). Replay the trace after after_seq, then live events, skipping
     * any seq already sent: the two ranges overlap (a turn may run on while
     * the trace is read) but never leave a hole between them.
     */
    attach: async (req, ctx) => {
      const id = req.session;
      const summary = await store.summary(id);
      if (!summary) throw new WireError(ErrorCode.NotFound, `session ${id} not found`);
      const sub = runtime.bus.subscribe({ session: id });
      closeOnAbort(ctx.signal, sub);
      const afterSeq = req.afterSeq;
      const live = runtime.liveSession(id);
      // Read the seam before any await: events after it reach `sub`, events up to it are in the trace once flushed.
      const seam = live ? live.seq : summary.lastSeq;
      const runningTurn = live?.running?.startSeq ?? 0;
      if (afterSeq !== undefined) await live?.flushTrace();
      return (async function* (): AsyncGenerator<Reply> {
        let last = afterSeq ?? 0;
        yield { attached: { session: id, agent: summary.agent, lastSeq: seam, runningTurn } };
        try {
          if (afterSeq !== undefined) {
            for await (const r of store.readEvents(id, afterSeq)) {
              if (r.event.seq <= last) continue;
              last = r.event.seq;
              yield { stream: eventFromRecord(r, id, summary.agent).event };
            }
          }
          for await (const e of sub) {
            if (e.seq <= last) continue;
            last = e.seq;
            yield { stream: e.event };
          }
        } catch (err) {
          // The subscription only knows what it handed out live; the client also got the replay.
          if (err instanceof SlowSubscriber) throw new SlowSubscriber(last, SUBSCRIPTION_CAPACITY);
          throw err;
        } finally {
          sub.close();
        }
      })();
    },
  };
}
