/**
 * Opens the transport a server's config describes and hands it to
 * `attempt` (which connects the SDK client over it):
 *
 * - stdio: the command resolved on PATH first (a missing program fails with
 *   its name, not "connection closed"), run with the allow-listed
 *   environment plus the server's `env`, stderr appended to
 *   logs/mcp-<name>.log. On Linux it runs under `setpriv --pdeathsig KILL`
 *   so it dies with the daemon even after kill -9 (Bun.spawn cannot set
 *   PR_SET_PDEATHSIG itself); setpriv execs the server, so the pid is the
 *   server's.
 * - url: Streamable HTTP, falling back to the older HTTP+SSE transport when
 *   the server answers the Streamable POST with 404 or 405.
 */
import { closeSync, existsSync, openSync, readSync, fstatSync } from "node:fs";
import { join } from "node:path";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { McpServerConfig } from "../config/mcp.ts";
import { allowedEnv } from "../tools/bash.ts";
import { errorMessage } from "../util/abort.ts";
import type { ClientSdk, McpClient } from "./sdk.ts";

export interface OpenedTransport {
  transport: Transport;
  /** The stdio server's pid once spawned. */
  readonly pid: number | null;
  /** A failure's reason, with the server's last stderr line when it left one. */
  explain(err: unknown): string;
}

const SETPRIV = process.platform === "linux" ? (Bun.which("setpriv") ?? null) : null;

export function logFileFor(logsDir: string, server: string): string {
  return join(logsDir, `mcp-${server}.log`);
}

export async function openTransport(
  sdk: ClientSdk,
  config: McpServerConfig,
  deps: { logsDir: string; home: string; env: Record<string, string | undefined> },
  attempt: (t: OpenedTransport) => Promise<McpClient>,
): Promise<McpClient> {
  const spec = config.transport;
  if (spec.kind === "http") {
    const headers = spec.headers;
    const url = new URL(spec.url);
    const plain: OpenedTransport = {
      transport: new sdk.StreamableHTTPClientTransport(url, { requestInit: { headers } }),
      pid: null,
      explain: (err) => `${spec.url}: ${errorMessage(err)}`,
    };
    try {
      return await attempt(plain);
    } catch (err) {
      if (!/\b(404|405)\b/.test(errorMessage(err))) throw err;
      // The older HTTP+SSE transport answers a POST to its endpoint with 404/405.
      const sse: OpenedTransport = {
        transport: new sdk.SSEClientTransport(url, { requestInit: { headers } }),
        pid: null,
        explain: (e) => `${spec.url} (HTTP+SSE): ${errorMessage(e)}`,
      };
      return await attempt(sse);
    }
  }
  const cwd = spec.cwd ?? deps.home;
  if (!existsSync(cwd)) throw new Error(`its cwd ${cwd} does not exist; create it or fix cwd in [mcp.${config.name}]`);
  const env = { ...allowedEnv(deps.env, cwd), ...spec.env };
  const program = spec.command.includes("/") ? spec.command : Bun.which(spec.command, { PATH: env.PATH ?? "", cwd });
  if (!program || !existsSync(program))
    throw new Error(
      `command "${spec.command}" not found (PATH=${env.PATH ?? ""}); install it or give its full path in [mcp.${config.name}] command`,
    );
  const logFile = logFileFor(deps.logsDir, config.name);
  const fd = openSync(logFile, "a", 0o600);
  const [command, args] = SETPRIV
    ? [SETPRIV, ["--pdeathsig", "KILL", "--", program, ...spec.args]]
    : [program, spec.args];
  const transport = new sdk.StdioClientTransport({ command, args, env, cwd, stderr: fd });
  const opened: OpenedTransport = {
    transport,
    get pid() {
      return transport.pid;
    },
    explain: (err) => {
      const tail = lastLine(logFile);
      return `${errorMessage(err)}${tail ? ` (its stderr: ${tail})` : ""}; see ${logFile}`;
    },
  };
  try {
    return await attempt(opened);
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

/** The last non-empty line of a log, at most 300 characters, read from its last 4 KB. */
function lastLine(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    const len = Math.min(size, 4096);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf
      .toString("utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    return lines.at(-1)?.slice(0, 300);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
