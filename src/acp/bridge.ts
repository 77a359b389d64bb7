/**
 * `crabtalk acp`: an Agent Client Protocol agent over stdio that is only a
 * client of the daemon (like `crabtalk send`), built on the official
 * @agentclientprotocol/sdk. Loaded by a dynamic import from cli/acp.ts only,
 * so no other command pays for the SDK.
 *
 * Sessions: the daemon creates a session on a turn's first message, so
 * `session/new` only chooses the agent and checks the cwd; the first
 * `session/prompt` creates the daemon session. A new session's ACP id is
 * "new-N" for the life of this connection; the daemon's id is announced with
 * a `session_info_update` (`_meta.crabtalk.session`) and is the id to give
 * `session/load` later, which replays that session's history as updates
 * (`session/list` offers the daemon's sessions, newest first).
 *
 * Modes are the daemon's agents (a session's agent can change until its
 * first prompt; a daemon session keeps its agent after that). The model is
 * a config option with the agent's one configured model.
 */
import {
  agent,
  type InitializeResponse,
  methods,
  ndJsonStream,
  PROTOCOL_VERSION,
  RequestError,
  type SessionConfigOption,
  type SessionModeState,
} from "@agentclientprotocol/sdk";
import type { CrabtalkClient } from "../client/client.ts";
import { DaemonError } from "../client/errors.ts";
import type { AgentGrants } from "../protocol/gen/crabtalk.ts";
import { VERSION } from "../util/version.ts";
import { cwdRefusal, promptText, updatesOfHistory } from "./mapping.ts";
import { type BridgeSession, cancelTurn, followTurn, runPrompt } from "./turn.ts";

export interface BridgeOptions {
  daemon: CrabtalkClient;
  /** The agent new sessions start with (default: crab when configured, else the first agent). */
  agent?: string;
  input: ReadableStream<Uint8Array>;
  output: WritableStream<Uint8Array>;
  /** Diagnostics (stderr): stdout is the protocol. */
  log: (line: string) => void;
}

const MODEL_OPTION = "model";
/** Sessions per session/list page: a screenful in an editor's picker. */
const LIST_PAGE = 50;

/** Serves one editor until it closes the connection, or the daemon goes away (which ends the bridge too). */
export async function serveAcp(options: BridgeOptions): Promise<"editor-closed" | "daemon-gone"> {
  const { daemon, log } = options;
  const sessions = new Map<string, BridgeSession>();
  let newCount = 0;

  const agents = async (): Promise<AgentGrants[]> => (await daemon.request({ status: {} })).status!.agents;
  const agentNamed = async (name: string): Promise<{ spec: AgentGrants; all: AgentGrants[] }> => {
    const all = await agents();
    const spec = all.find((a) => a.agent === name);
    if (!spec)
      throw RequestError.invalidParams(
        { agent: name },
        `no agent "${name}" in the daemon's config (agents: ${all.map((a) => a.agent).join(", ")})`,
      );
    return { spec, all };
  };
  const defaultAgent = async (): Promise<string> => {
    if (options.agent) return options.agent;
    const all = await agents();
    return all.some((a) => a.agent === "crab") ? "crab" : (all[0]?.agent ?? "crab");
  };
  const checkCwd = (cwd: string, spec: AgentGrants) => {
    const refusal = cwdRefusal(cwd, spec.agent, spec.cwd);
    if (refusal) throw RequestError.invalidParams({ cwd, agentCwd: spec.cwd }, refusal);
  };
  const sessionFor = (id: string): BridgeSession => {
    const s = sessions.get(id);
    if (!s) throw RequestError.sessionNotFound(id);
    return s;
  };
  const modesOf = (s: BridgeSession, all: AgentGrants[]): SessionModeState => ({
    currentModeId: s.agent,
    availableModes: all.map((a) => ({ id: a.agent, name: a.agent, description: `crabtalk agent on ${a.model}` })),
  });
  const configOf = (spec: AgentGrants): SessionConfigOption[] => [
    {
      type: "select",
      id: MODEL_OPTION,
      name: "Model",
      category: "model",
      description: "The agent's model (set in crabtalk.toml)",
      currentValue: spec.model,
      options: [{ value: spec.model, name: spec.model }],
    },
  ];
  const ignoreMcp = (servers: unknown[]) => {
    if (servers.length > 0)
      log(`ignoring ${servers.length} MCP server(s) from the editor: the daemon's agents use [mcp] in crabtalk.toml`);
  };

  const app = agent({ name: "crabtalk" })
    .onRequest(methods.agent.initialize, ({ params }): InitializeResponse => {
      log(`editor ${params.clientInfo?.name ?? "(unnamed)"} speaks ACP ${params.protocolVersion}`);
      return {
        protocolVersion: Math.min(params.protocolVersion, PROTOCOL_VERSION),
        agentCapabilities: {
          loadSession: true,
          // Text, links and text resources only (see mapping.promptText); no editor-provided MCP servers.
          promptCapabilities: { image: false, audio: false, embeddedContext: true },
          mcpCapabilities: { http: false, sse: false },
          sessionCapabilities: { list: {} },
        },
        agentInfo: { name: "crabtalk", title: "crabtalk", version: VERSION },
        authMethods: [],
      };
    })
    .onRequest(methods.agent.session.new, async ({ params }) => {
      ignoreMcp(params.mcpServers);
      const { spec, all } = await agentNamed(await defaultAgent());
      checkCwd(params.cwd, spec);
      newCount += 1;
      const s: BridgeSession = {
        id: `new-${newCount}`,
        agent: spec.agent,
        cwd: params.cwd,
        daemonSession: 0,
        running: null,
        cancelled: false,
      };
      sessions.set(s.id, s);
      return { sessionId: s.id, modes: modesOf(s, all), configOptions: configOf(spec) };
    })
    .onRequest(methods.agent.session.load, async ({ params, client }) => {
      ignoreMcp(params.mcpServers);
      const id = Number(params.sessionId);
      if (!Number.isSafeInteger(id) || id <= 0)
        throw RequestError.invalidParams(
          { sessionId: params.sessionId },
          `session/load takes a crabtalk session id (a whole number, as \`crabtalk sessions\` lists), got "${params.sessionId}"`,
        );
      // Attach (live only) before reading the history, so a turn in flight is followed from here on.
      const live = daemon.stream({ attach: { session: id, client: "acp" } })[Symbol.asyncIterator]();
      const attached = await daemonCall(() => live.next());
      const runningTurn = attached.value?.attached?.runningTurn ?? 0;
      if (!runningTurn) await live.return?.();
      let history: Awaited<ReturnType<typeof daemon.request>>;
      let spec: AgentGrants;
      let all: AgentGrants[];
      try {
        history = await daemonCall(() => daemon.request({ getHistory: { session: id } }));
        ({ spec, all } = await agentNamed(history.history!.agent));
        checkCwd(params.cwd, spec);
      } catch (err) {
        await live.return?.();
        throw err;
      }
      const s: BridgeSession = {
        id: params.sessionId,
        agent: spec.agent,
        cwd: params.cwd,
        daemonSession: id,
        running: null,
        cancelled: false,
      };
      sessions.set(s.id, s);
      for (const update of updatesOfHistory(history.history!.messages))
        await client.notify("session/update", { sessionId: s.id, update });
      if (runningTurn) {
        log(`session ${id} has a turn running: following it`);
        const rest = { [Symbol.asyncIterator]: () => live };
        void followTurn({ daemon, editor: client, log, onDaemonSession: announce }, s, rest);
      }
      return { modes: modesOf(s, all), configOptions: configOf(spec) };
    })
    .onRequest(methods.agent.session.list, async ({ params }) => {
      // The daemon's sessions, newest activity first; the cursor is the offset of the next page.
      const offset = params.cursor ? Number(params.cursor) : 0;
      if (!Number.isSafeInteger(offset) || offset < 0)
        throw RequestError.invalidParams(
          { cursor: params.cursor },
          `cursor "${params.cursor}" is not one this agent gave`,
        );
      const cwds = new Map((await agents()).map((a) => [a.agent, a.cwd]));
      const page = (await daemonCall(() => daemon.request({ sessions: { offset, limit: LIST_PAGE } }))).sessions!;
      const next = offset + page.sessions.length;
      return {
        sessions: page.sessions
          // A session is listed for a cwd its agent may open (see mapping.cwdRefusal); its cwd is the agent's.
          .filter((info) => !params.cwd || cwdRefusal(params.cwd, info.agent, cwds.get(info.agent) ?? "") === null)
          .map((info) => ({
            sessionId: String(info.id),
            cwd: cwds.get(info.agent) ?? "",
            title: info.title || `crabtalk session ${info.id} (${info.agent})`,
            ...(info.lastActiveMs ? { updatedAt: new Date(info.lastActiveMs).toISOString() } : {}),
            _meta: { crabtalk: { session: info.id, agent: info.agent, running: info.running } },
          })),
        ...(page.sessions.length > 0 && next < page.total ? { nextCursor: String(next) } : {}),
      };
    })
    .onRequest(methods.agent.session.prompt, async ({ params, client }) => {
      const s = sessionFor(params.sessionId);
      if (s.running)
        throw RequestError.invalidRequest(
          { sessionId: s.id },
          `a turn is already running on session ${s.id}: wait for it, or send session/cancel`,
        );
      let content: string;
      try {
        content = promptText(params.prompt);
      } catch (err) {
        throw RequestError.invalidParams(undefined, (err as Error).message);
      }
      return { stopReason: await runPrompt({ daemon, editor: client, log, onDaemonSession: announce }, s, content) };
    })
    .onNotification(methods.agent.session.cancel, async ({ params }) => {
      const s = sessions.get(params.sessionId);
      if (!s?.running) return;
      s.cancelled = true;
      s.running.abort(new Error("cancelled by the editor"));
      if (s.daemonSession) await cancelTurn({ daemon, log }, s.daemonSession);
    })
    .onRequest(methods.agent.session.setMode, async ({ params, client }) => {
      const s = sessionFor(params.sessionId);
      const { spec } = await agentNamed(params.modeId);
      if (s.daemonSession && spec.agent !== s.agent)
        throw RequestError.invalidParams(
          { modeId: params.modeId },
          `crabtalk session ${s.daemonSession} belongs to agent "${s.agent}" (a daemon session keeps its agent); start a new session to talk to "${spec.agent}"`,
        );
      checkCwd(s.cwd, spec);
      s.agent = spec.agent;
      await client.notify("session/update", {
        sessionId: s.id,
        update: { sessionUpdate: "current_mode_update", currentModeId: s.agent },
      });
      return {};
    })
    .onRequest(methods.agent.session.setConfigOption, async ({ params }) => {
      const s = sessionFor(params.sessionId);
      const { spec } = await agentNamed(s.agent);
      if (params.configId !== MODEL_OPTION)
        throw RequestError.invalidParams({ configId: params.configId }, `unknown config option "${params.configId}"`);
      if (params.value !== spec.model)
        throw RequestError.invalidParams(
          { value: params.value },
          `agent "${s.agent}" runs on ${spec.model}; its model is set in crabtalk.toml ([agents.${s.agent}] model), or switch to another agent's mode`,
        );
      return { configOptions: configOf(spec) };
    });

  /** Tells the editor which daemon session its new session became (the id for `crabtalk attach` and session/load). */
  async function announce(s: BridgeSession, daemonSession: number): Promise<void> {
    log(`session ${s.id} is crabtalk session ${daemonSession}`);
    await connection.client.notify("session/update", {
      sessionId: s.id,
      update: {
        sessionUpdate: "session_info_update",
        title: `crabtalk session ${daemonSession}`,
        _meta: { crabtalk: { session: daemonSession } },
      },
    });
  }

  const connection = app.connect(ndJsonStream(options.output, options.input));
  await Promise.race([connection.closed, daemon.closedPromise]);
  if (connection.signal.aborted) return "editor-closed";
  connection.close(new Error("the crabtalk daemon went away"));
  return "daemon-gone";
}

/** A daemon error as the JSON-RPC error the editor shows (404 keeps its meaning). */
async function daemonCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DaemonError)
      throw new RequestError(err.code === 404 ? -32002 : -32603, `crabtalk daemon: ${err.message}`, {
        code: err.code,
      });
    throw err;
  }
}
