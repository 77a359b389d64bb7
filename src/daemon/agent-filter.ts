/**
 * What a token limited to some agents (`crabtalk token create --agents a,b`)
 * may see: requests naming another agent's session answer 404 (as if it did
 * not exist), listings and event streams drop other agents' entries, and
 * requests that cannot be narrowed to agents (tasks, downloads, everything
 * admin) are refused with 403.
 *
 * Listing pages are filtered after paging, so a page may hold fewer entries
 * than its limit; `total` counts what the token can see on that page.
 */
import { ErrorCode, WireError } from "../protocol/errors.ts";
import type { Init } from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";

type Reply = Init<ServerMessage>;
type RequestKind = NonNullable<ClientMessage["msg"]>;

/** Finds the agent of a stored session, or undefined when there is none. */
export type SessionAgent = (session: number) => Promise<string | undefined>;

/** Drops (null) or trims a reply before it goes out. */
export type ReplyFilter = (reply: Reply) => Reply | null;

const SESSION_KINDS = new Set<RequestKind>(["getHistory", "attach", "kill", "deleteSession", "compact", "cancel"]);

/**
 * Checks a request of a limited token before its handler runs: throws 403
 * or 404, or returns the filter its replies pass through (undefined: none).
 */
export async function guardAgents(
  kind: RequestKind,
  body: Record<string, unknown>,
  agents: readonly string[],
  sessionAgent: SessionAgent,
): Promise<ReplyFilter | undefined> {
  const allowed = (agent: string | undefined) => agent !== undefined && agents.includes(agent);
  const requireSession = async (session: unknown) => {
    const id = Number(session ?? 0);
    if (!allowed(await sessionAgent(id))) throw new WireError(ErrorCode.NotFound, `session ${id} not found`);
  };
  if (kind === "ping" || kind === "unsubscribe" || kind === "auth") return undefined;
  if (kind === "send" || kind === "stream") {
    if (!allowed(String(body.agent ?? "")))
      throw new WireError(ErrorCode.Forbidden, `this token may only talk to ${agents.join(", ")}`);
    if (body.session !== undefined && body.session !== null) await requireSession(body.session);
    return undefined;
  }
  if (SESSION_KINDS.has(kind)) {
    await requireSession(body.session);
    return undefined;
  }
  if (kind === "approve") {
    if (body.session === undefined || body.session === null)
      throw new WireError(ErrorCode.Forbidden, "a token limited to agents must name the session it approves in");
    await requireSession(body.session);
    return undefined;
  }
  if (kind === "sessions") {
    if (body.agent && !allowed(String(body.agent))) return () => ({ sessions: { total: 0, sessions: [] } });
    return (reply) => {
      if (!reply.sessions) return reply;
      const sessions = (reply.sessions.sessions ?? []).filter((s) => allowed(s.agent));
      return { sessions: { ...reply.sessions, sessions, total: sessions.length } };
    };
  }
  if (kind === "subscribeEvents") {
    if (body.agent && !allowed(String(body.agent)))
      throw new WireError(ErrorCode.Forbidden, `this token may only see ${agents.join(", ")}`);
    return (reply) => (reply.event && !allowed(reply.event.agent) ? null : reply);
  }
  if (kind === "pendingApprovals")
    return (reply) =>
      reply.pendingApprovals
        ? {
            pendingApprovals: {
              approvals: (reply.pendingApprovals.approvals ?? []).filter((a) => allowed(a.agent)),
            },
          }
        : reply;
  if (kind === "searchSessions")
    return (reply) =>
      reply.searchResults
        ? {
            searchResults: {
              ...reply.searchResults,
              hits: (reply.searchResults.hits ?? []).filter((h) => allowed(h.agent)),
            },
          }
        : reply;
  if (kind === "usage")
    return (reply) =>
      reply.usage
        ? { usage: { ...reply.usage, rows: (reply.usage.rows ?? []).filter((r) => allowed(r.agent)) } }
        : reply;
  if (kind === "status")
    return (reply) =>
      reply.status
        ? { status: { ...reply.status, agents: (reply.status.agents ?? []).filter((a) => allowed(a.agent)) } }
        : reply;
  throw new WireError(
    ErrorCode.Forbidden,
    `"${kind}" is not available to a token limited to agents (${agents.join(", ")}); use a token without --agents`,
  );
}
