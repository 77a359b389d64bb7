/**
 * Sending a turn from the page (StreamMsg): to an agent (a new session) or
 * to a session (continuing it). Resolves with the session id at the turn's
 * StreamStart; the stream is then read to its end in the background (the
 * daemon delivers this connection's approval prompts on it, as the turn's
 * requester). What the turn says is shown by the session page's attach,
 * which sees the same events by seq, so nothing is drawn twice.
 */
import type { Connection } from "./conn.ts";

export async function startTurn(
  conn: Connection,
  to: { agent?: string; session?: number; content: string },
): Promise<number> {
  const replies = conn.stream({
    stream: {
      agent: to.agent ?? "",
      content: to.content,
      ...(to.session ? { session: to.session } : {}),
      sender: "dashboard",
      approver: "requester",
      client: "dashboard",
    },
  });
  for await (const reply of replies) {
    const start = reply.stream?.start;
    if (!start) continue;
    // Drain the rest without blocking the caller; an error after the start is shown by the session itself.
    void (async () => {
      try {
        for await (const _ of replies) void _;
      } catch {
        // the turn's end (or failure) reaches the page through its attach
      }
    })();
    return start.session || reply.stream!.session;
  }
  throw new Error("the turn ended before it started");
}
