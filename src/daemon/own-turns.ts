/**
 * "chat" tokens cancel and approve only their own turns: the sessions whose
 * turns a token started (a send or stream it sent, seen in the session it
 * named or in the StreamStart / SendResponse it was answered) are recorded
 * per token name, and cancel / approve on any other session answers 403.
 * Admin tokens and the owner are not limited. The record lives as long as
 * the daemon process (a restart forgets it; an admin token can still act).
 */
import { ErrorCode, WireError } from "../protocol/errors.ts";
import type { Init } from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";

type Reply = Init<ServerMessage>;
type RequestKind = NonNullable<ClientMessage["msg"]>;

export class TurnOwners {
  private readonly byToken = new Map<string, Set<number>>();

  record(token: string, session: number): void {
    if (!session) return;
    const sessions = this.byToken.get(token) ?? new Set<number>();
    this.byToken.set(token, sessions);
    sessions.add(session);
  }

  owns(token: string, session: number): boolean {
    return this.byToken.get(token)?.has(session) ?? false;
  }
}

/** Throws 403 for cancel/approve on another's turn; for send/stream, returns the filter that records the session. */
export function guardOwnTurns(
  kind: RequestKind,
  body: Record<string, unknown>,
  token: string,
  owners: TurnOwners,
): ((reply: Reply) => Reply) | undefined {
  if (kind === "cancel" || kind === "approve") {
    const session = Number(body.session ?? 0);
    if (!owners.owns(token, session))
      throw new WireError(
        ErrorCode.Forbidden,
        `token "${token}" may ${kind} only turns it started, and session ${session} has none of them; an admin token may ${kind} any turn`,
      );
    return undefined;
  }
  if (kind !== "send" && kind !== "stream") return undefined;
  if (body.session !== undefined && body.session !== null) owners.record(token, Number(body.session));
  return (reply) => {
    const session = reply.stream?.start?.session ?? reply.response?.session;
    if (session !== undefined) owners.record(token, Number(session));
    return reply;
  };
}
