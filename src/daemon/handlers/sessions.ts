/**
 * Session requests: list, history, kill, delete, compact, search, attach,
 * the global event subscription and token usage.
 */
import type { HandlerTable, Reply } from "../router.ts";
import type { SessionRuntime } from "../../session/runtime.ts";
import type { SessionEvent } from "../../session/bus.ts";
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

export function sessionHandlers(runtime: SessionRuntime): HandlerTable {
  const { store } = runtime.deps;
  return {
    sessions: async (req) => {
      const limit = Math.min(req.limit || DEFAULT_PAGE, MAX_PAGE);
      const page = await store.list({ agent: req.agent || undefined, offset: req.offset, limit });
      return { sessions: { total: page.total, sessions: page.sessions.map((s) => sessionInfo(s, runtime.isLive(s.id))) } };
    },

    getHistory: async (req) => {
      const loaded = await runtime.loadStored(req.session);
      return { history: { session: req.session, agent: loaded.meta.agent, messages: loaded.allMessages.map(historyMessage) } };
    },

    kill: async (req) => {
      if (!(await runtime.kill(req.session))) throw new WireError(ErrorCode.NotFound, `session ${req.session} not found`);
      return { ack: { message: `session ${req.session} ended; its history stays on disk` } };
    },

    deleteSession: async (req) => {
      if (!(await runtime.delete(req.session))) throw new WireError(ErrorCode.NotFound, `session ${req.session} not found`);
      return { ack: { message: `session ${req.session} deleted` } };
    },

    compact: async (req) => {
      const { tokensBefore, tokensAfter } = await runtime.compact(req.session);
      return { stream: { session: req.session, compaction: { tokensBefore, tokensAfter } } };
    },

    searchSessions: async (req) => {
      if (!req.query.trim()) throw new WireError(ErrorCode.BadRequest, "search needs words to look for");
      const hits = await store.search(req.query, { limit: req.limit || 20 });
      return { searchResults: { hits: hits.map((h) => ({ session: h.session, agent: h.agent, role: h.role, snippet: h.snippet, score: h.score, timestampMs: h.ts })) } };
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
      ctx.signal.addEventListener("abort", () => sub.close(), { once: true });
      return (async function* (): AsyncGenerator<Reply> {
        for await (const e of sub) {
          yield { event: { agent: e.agent, session: e.session, kind: e.kind, payload: e.event, timestampMs: e.ts } };
        }
      })();
    },

    attach: async (req, ctx) => {
      const id = req.session;
      const summary = await store.summary(id);
      if (!summary) throw new WireError(ErrorCode.NotFound, `session ${id} not found`);
      // Subscribe first, then note where live delivery starts: replay covers up to it, live covers after it.
      const sub = runtime.bus.subscribe({ session: id });
      ctx.signal.addEventListener("abort", () => sub.close(), { once: true });
      const live = runtime.liveSession(id);
      const liveFrom = live ? live.seq : summary.lastSeq;
      if (live) await live.flushTrace();
      const afterSeq = req.afterSeq;
      return (async function* (): AsyncGenerator<Reply> {
        if (afterSeq !== undefined) {
          for await (const r of store.readEvents(id, afterSeq)) {
            if (r.event.seq > liveFrom) break;
            yield { stream: eventFromRecord(r, id, summary.agent).event };
          }
        }
        for await (const e of sub) {
          if (e.seq <= liveFrom) continue;
          yield { stream: e.event };
        }
      })();
    },
  };
}
