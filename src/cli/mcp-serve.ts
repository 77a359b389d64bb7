/**
 * `crabtalk mcp serve`: a stdio MCP server (the official SDK's server side)
 * that a desktop or editor MCP client launches, offering the daemon's
 * agents as tools. It is a client of the daemon like `crabtalk send`: a
 * turn it runs is an ordinary turn (sender "mcp"), seen by every watcher.
 *
 *   send_message{agent, message, session?}  runs a turn; answers the reply and the session id
 *   list_agents{}                           agents with model and tool grants
 *   list_sessions{agent?}                   sessions, newest activity first
 *   session_history{session}                a session's messages
 *
 * Turns run with approver "none": a tool that needs approval is denied at
 * once, since an MCP client cannot answer the prompt. The SDK is imported
 * here, on first use, never at CLI start. A failure of the daemon becomes
 * an isError result the MCP client can show.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CrabtalkClient } from "../client/client.ts";
import { VERSION } from "../util/version.ts";
import { tcpFlag, type ConnectionFlags } from "./shared.ts";

const TOOLS = [
  {
    name: "send_message",
    description:
      "Send a message to a crabtalk agent and wait for its answer. Give `session` to continue a conversation; the answer says which session it used.",
    inputSchema: {
      type: "object" as const,
      properties: {
        agent: { type: "string", description: "The agent (see list_agents)." },
        message: { type: "string", description: "What to say." },
        session: { type: "integer", minimum: 1, description: "Continue this session instead of starting one." },
      },
      required: ["agent", "message"],
    },
  },
  {
    name: "list_agents",
    description: "The daemon's agents with their model and tool grants.",
    inputSchema: { type: "object" as const, properties: {} },
  },
  {
    name: "list_sessions",
    description: "Sessions, newest activity first.",
    inputSchema: {
      type: "object" as const,
      properties: { agent: { type: "string", description: "Only this agent's sessions." } },
    },
  },
  {
    name: "session_history",
    description: "The messages of one session.",
    inputSchema: {
      type: "object" as const,
      properties: { session: { type: "integer", minimum: 1 } },
      required: ["session"],
    },
  },
];

const text = (value: unknown, isError = false): CallToolResult => ({
  content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) }],
  ...(isError ? { isError: true } : {}),
});

interface RequestExtra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification(n: {
    method: "notifications/progress";
    params: { progressToken: string | number; progress: number; message?: string };
  }): Promise<void>;
}

/**
 * Runs one turn as a stream, so the MCP client hears progress (when it asked
 * for it with a progressToken: the turn's start and each tool call, which
 * keeps a long turn from hitting the client's request timeout) and so
 * cancelling the MCP request cancels the turn. The answer is the text of the
 * turn's last model reply.
 */
async function sendMessage(
  client: CrabtalkClient,
  req: { agent: string; content: string; session: number | undefined },
  extra: RequestExtra,
): Promise<CallToolResult> {
  const token = extra._meta?.progressToken;
  let step = 0;
  const progress = (message: string) => {
    if (token !== undefined)
      void extra
        .sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: ++step, message },
        })
        .catch(() => undefined);
  };
  let session = 0;
  let answer = "";
  const cancel = () => {
    if (session > 0) void client.request({ cancel: { session } }).catch(() => undefined);
  };
  extra.signal.addEventListener("abort", cancel, { once: true });
  try {
    for await (const r of client.stream({
      stream: { agent: req.agent, content: req.content, session: req.session, sender: "mcp", approver: "none" },
    })) {
      const e = r.stream;
      if (!e) continue;
      if (e.start) {
        session = Number(e.start.session);
        if (extra.signal.aborted) cancel();
        progress(`turn started in session ${session}`);
      }
      if (e.chunk) answer += e.chunk.content;
      if (e.toolStart) {
        answer = "";
        progress(`calling ${e.toolStart.calls.map((c) => c.name).join(", ")}`);
      }
      if (e.end) {
        const failed = e.end.stopReason === "error" || e.end.stopReason === "aborted";
        const result: CallToolResult = {
          content: [{ type: "text", text: failed ? `${e.end.stopReason}: ${e.end.error || answer}` : answer }],
          structuredContent: { answer, session, agent: e.end.agent, stopReason: e.end.stopReason },
        };
        return failed ? { ...result, isError: true } : result;
      }
    }
    return text("the daemon ended the turn without an end event", true);
  } finally {
    extra.signal.removeEventListener("abort", cancel);
  }
}

export async function serveMcp(flags: ConnectionFlags): Promise<void> {
  const [{ Server }, { StdioServerTransport }, types] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/index.js"),
    import("@modelcontextprotocol/sdk/server/stdio.js"),
    import("@modelcontextprotocol/sdk/types.js"),
  ]);
  const client = await CrabtalkClient.connect({ socket: flags.socket, tcp: tcpFlag(flags.tcp) });
  const server = new Server({ name: "crabtalk", version: VERSION }, { capabilities: { tools: {} } });
  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(types.CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const args = (req.params.arguments ?? {}) as Record<string, unknown>;
    try {
      switch (req.params.name) {
        case "send_message": {
          if (typeof args.agent !== "string" || typeof args.message !== "string")
            return text("send_message needs agent and message (strings)", true);
          const session = typeof args.session === "number" ? args.session : undefined;
          return await sendMessage(client, { agent: args.agent, content: args.message, session }, extra);
        }
        case "list_agents":
          return text((await client.request({ status: {} })).status!.agents);
        case "list_sessions": {
          const agent = typeof args.agent === "string" ? args.agent : undefined;
          const list = (await client.request({ sessions: { agent, offset: 0, limit: 0 } })).sessions!;
          return text(
            list.sessions.map((s) => ({
              id: Number(s.id),
              agent: s.agent,
              title: s.title,
              messages: Number(s.messageCount),
              lastActiveMs: Number(s.lastActiveMs),
            })),
          );
        }
        case "session_history": {
          if (typeof args.session !== "number") return text("session_history needs session (a number)", true);
          const h = (await client.request({ getHistory: { session: args.session } })).history!;
          return text(h.messages.map((m) => ({ role: m.role, content: m.content })));
        }
        default:
          return text(`unknown tool ${req.params.name}; the tools are ${TOOLS.map((t) => t.name).join(", ")}`, true);
      }
    } catch (err) {
      return text(`crabtalk: ${err instanceof Error ? err.message : String(err)}`, true);
    }
  });
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    // The MCP client closing our stdin is how it says goodbye.
    process.stdin.once("end", () => resolve());
  });
  await server.connect(new StdioServerTransport());
  await Promise.race([closed, client.closedPromise]);
  client.close();
  await server.close();
}
