/**
 * Every path the daemon and its clients use, derived from one home
 * directory: $CRABTALK_HOME, default ~/.crabtalk.
 *
 * node:os is fetched only when $HOME is unset (process.getBuiltinModule):
 * every client command resolves the home, and loading node:os costs ~0.3 ms.
 */
import { join, resolve } from "node:path";

export interface Paths {
  home: string;
  config: string;
  socket: string;
  tcpPortFile: string;
  /** The dashboard's bound port ([daemon] http), while the daemon serves it. */
  httpPortFile: string;
  lock: string;
  logs: string;
  logFile: string;
  sessions: string;
  work: string;
  agents: string;
  history: string;
  usage: string;
}

function homedir(): string {
  return process.getBuiltinModule("node:os").homedir();
}

export function resolveHome(env: Record<string, string | undefined> = process.env): string {
  const fromEnv = env.CRABTALK_HOME;
  if (fromEnv && fromEnv.length > 0) return resolve(expandTilde(fromEnv, env));
  return join(env.HOME || homedir(), ".crabtalk");
}

export function expandTilde(p: string, env: Record<string, string | undefined> = process.env): string {
  if (p === "~") return env.HOME || homedir();
  if (p.startsWith("~/")) return join(env.HOME || homedir(), p.slice(2));
  return p;
}

export function pathsFor(home: string): Paths {
  return {
    home,
    config: join(home, "crabtalk.toml"),
    socket: join(home, "crabtalk.sock"),
    tcpPortFile: join(home, "crabtalk.tcp"),
    httpPortFile: join(home, "crabtalk.http"),
    lock: join(home, "crabtalk.lock"),
    logs: join(home, "logs"),
    logFile: join(home, "logs", "daemon.log"),
    sessions: join(home, "sessions"),
    work: join(home, "work"),
    agents: join(home, "agents"),
    history: join(home, "history"),
    usage: join(home, "usage.jsonl"),
  };
}
