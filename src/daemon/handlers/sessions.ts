/**
 * Session requests: list, history, kill, delete, compact, search, attach,
 * the global event subscription and token usage.
 */
import type { HandlerTable, Reply } from "../router.ts";
import type { SessionRuntime } from "../../session/runtime.ts";
import type { EventBusService } from "../../events/bus.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import { usageData } from "../../session/loop-events.ts";
import { agentEvent, historyMessages, sessionInfo, streamEvent } from "../wire.ts";
import { replyStream } from "./reply-stream.ts";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

/** Ends a stream when the client goes away, including before it was made (a disconnect during an await). */
function closeOnAbort(signal: AbortSignal, close: () => void): void {
  if (signal.aborted) close();
  else signal.addEventListener("abort", close, { once: true });
}

/** `bus` gives the event bus once it runs: SubscribeEvents with after_bus_seq replays its journal first. */
export function sessionHandlers(runtime: SessionRuntime, bus: () => EventBusService | null = () => null): HandlerTable {
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
        history: { session: req.session, agent: loaded.meta.agent, messages: historyMessages(loaded.allMessages) },
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
      const hits = await runtime.search(req.query, req.limit || 20);
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
      const { usage } = runtime;
      const today = usage.today();
      return {
        usage: {
          day: today.day,
          rows: today.rows.map((r) => ({ agent: r.agent, model: r.model, usage: usageData(r.usage), turns: r.calls })),
          dailyLimit: usage.dailyLimit ?? 0,
          usedToday: usage.usedToday(),
          resetsAtMs: usage.resetsAt(),
        },
      };
    },

    subscribeEvents: (req, ctx) => {
      const filter = {
        ...(req.agent ? { agent: req.agent } : {}),
        ...((req.client ?? ctx.clientName) ? { clientName: req.client ?? ctx.clientName } : {}),
      };
      const events = bus();
      const sub =
        req.afterBusSeq !== undefined && events
          ? events.follow(filter, Number(req.afterBusSeq))
          : runtime.subscribeAll(filter);
      closeOnAbort(ctx.signal, () => sub.close());
      return (async function* (): AsyncGenerator<Reply> {
        try {
          for await (const e of "events" in sub ? sub.events : sub) yield { event: agentEvent(e) };
        } finally {
          sub.close();
        }
      })();
    },

    attach: async (req, ctx) => {
      const client = req.client ?? ctx.clientName;
      const attachment = await runtime.attach(req.session, req.afterSeq, client ? { clientName: client } : {});
      closeOnAbort(ctx.signal, () => attachment.close());
      return replyStream(attachment.events, (e): Reply => ({ stream: streamEvent(e) }), undefined, {
        attached: attachment.header,
      });
    },
  };
}
