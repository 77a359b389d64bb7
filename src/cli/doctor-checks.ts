/**
 * The checks of `crabtalk doctor`, each a finding with a status and, when
 * something is wrong, the fix in words (and, when it is safe, a repair the
 * `--fix` flag runs: permissions of the daemon's own folders, stale socket,
 * port and lock files). Checks only read unless asked to repair.
 */
import {
  existsSync,
  lstatSync,
  readFileSync,
  realpathSync,
  statfsSync,
  statSync,
  unlinkSync,
  chmodSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CrabtalkClient } from "../client/client.ts";
import { ConfigError } from "../config/errors.ts";
import { judgeDir } from "../config/home-policy.ts";
import { parseConfig, type Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import type { ProviderConfig } from "../config/providers.ts";
import { processAlive } from "../util/process.ts";
import { VERSION } from "../util/version.ts";

export type Status = "ok" | "warn" | "fail" | "skip";

export interface Finding {
  check: string;
  status: Status;
  detail: string;
  fix?: string;
  /** A safe repair `--fix` may run. */
  repair?: () => void;
  repaired?: boolean;
}

/** Below this much free space, sessions and logs are at risk of a full disk (a refused write ends turns with 507). */
const LOW_DISK_BYTES = 200 * 1024 * 1024;
const PROVIDER_TIMEOUT_MS = 5000;

export function checkHome(paths: Paths): Finding[] {
  const uid = process.getuid?.();
  const out: Finding[] = [];
  for (const [path, holds] of [
    [paths.home, "its socket, config and logs"],
    [paths.sessions, "session transcripts"],
    [paths.logs, "its logs"],
    [join(paths.home, "usage"), "token usage"],
  ] as const) {
    const link = lstatSync(path, { throwIfNoEntry: false });
    if (!link) {
      out.push({ check: `folder ${path}`, status: "ok", detail: "not created yet (the daemon creates it 0700)" });
      continue;
    }
    if (uid === undefined) continue;
    const target = link.isSymbolicLink() ? statSync(path, { throwIfNoEntry: false }) : undefined;
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // Dangling: judgeDir says so.
    }
    const verdict = judgeDir(path, link, target, real, uid, holds);
    if (verdict.action === "use") out.push({ check: `folder ${path}`, status: "ok", detail: "private" });
    else {
      const [detail, fix] = verdict.message.split(" Fix: ");
      const finding: Finding = {
        check: `folder ${path}`,
        status: verdict.action === "warn" ? "warn" : "fail",
        detail: detail!,
      };
      if (fix) finding.fix = fix;
      const st = target ?? link;
      // Safe to repair: a directory of ours that is only too open.
      if (verdict.action === "refuse" && st.isDirectory() && st.uid === uid)
        finding.repair = () => chmodSync(real, 0o700);
      out.push(finding);
    }
  }
  const cfg = lstatSync(paths.config, { throwIfNoEntry: false });
  if (cfg?.isFile() && uid !== undefined && cfg.uid === uid && (cfg.mode & 0o077) !== 0) {
    out.push({
      check: `file ${paths.config}`,
      status: "fail",
      detail: `readable by other users (mode ${(cfg.mode & 0o777).toString(8)}); it may hold API keys`,
      fix: `chmod 600 ${paths.config}`,
      repair: () => chmodSync(paths.config, 0o600),
    });
  }
  return out;
}

export function checkConfig(
  paths: Paths,
  env: Record<string, string | undefined>,
): { finding: Finding; config?: Config } {
  const check = `config ${paths.config}`;
  if (!existsSync(paths.config))
    return {
      finding: { check, status: "ok", detail: "none yet: the daemon writes a commented default on first start" },
    };
  try {
    const config = parseConfig(
      readFileSync(paths.config, "utf8"),
      { file: paths.config, env },
      {
        home: paths.home,
        builtinTools: [],
      },
    );
    return { finding: { check, status: "ok", detail: "valid" }, config };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const [detail, fix] = err.message.split(". Fix: ");
    return { finding: { check, status: "fail", detail: detail!, ...(fix ? { fix } : {}) } };
  }
}

/** One cheap request per provider (its model list, no tokens spent): reachable, and the key accepted. */
export async function checkProvider(p: ProviderConfig): Promise<Finding> {
  const check = `provider ${p.name}`;
  const base = p.baseUrl.replace(/\/+$/, "");
  const headers: Record<string, string> = { ...p.headers };
  if (p.kind === "anthropic") {
    if (p.apiKey) headers["x-api-key"] = p.apiKey;
    headers["anthropic-version"] ??= "2023-06-01";
  } else if (p.apiKey) headers.authorization = `Bearer ${p.apiKey}`;
  const url = `${base}/models`;
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      return {
        check,
        status: "fail",
        detail: `${base} refused the API key (HTTP ${res.status})`,
        fix: `check api_key of [provider.${p.name}] (and the environment variable it names)`,
      };
    if (res.status >= 500)
      return {
        check,
        status: "warn",
        detail: `${base} answered HTTP ${res.status}`,
        fix: "the provider may be down; try again later",
      };
    return { check, status: "ok", detail: `${base} reachable (HTTP ${res.status})` };
  } catch (err) {
    const why =
      (err as Error).name === "TimeoutError" ? `no answer in ${PROVIDER_TIMEOUT_MS / 1000} s` : (err as Error).message;
    return {
      check,
      status: "fail",
      detail: `${base} unreachable: ${why}`,
      fix: `check base_url of [provider.${p.name}], and that the model server is running`,
    };
  }
}

/** Socket, port and lock files against whether their daemon is alive; stale ones are safe to remove. */
export function checkRuntimeFiles(paths: Paths): { findings: Finding[]; running: boolean } {
  const findings: Finding[] = [];
  let running = false;
  if (existsSync(paths.lock)) {
    const [pid, start] = readFileSync(paths.lock, "utf8").trim().split(" ");
    running = processAlive(Number(pid), start);
    findings.push(
      running
        ? { check: "lock file", status: "ok", detail: `held by the running daemon (pid ${pid})` }
        : {
            check: "lock file",
            status: "fail",
            detail: `${paths.lock} names pid ${pid}, which is not running: left by a daemon that died`,
            fix: `rm ${paths.lock} (crabtalk daemon also replaces it)`,
            repair: () => unlinkSync(paths.lock),
          },
    );
  }
  for (const [path, what] of [
    [paths.socket, "socket"],
    [paths.tcpPortFile, "TCP port file"],
    [paths.httpPortFile, "dashboard port file"],
  ] as const) {
    if (!existsSync(path) || running) continue;
    findings.push({
      check: what,
      status: "fail",
      detail: `${path} exists but no daemon is running: clients would try a dead endpoint`,
      fix: `rm ${path}`,
      repair: () => unlinkSync(path),
    });
  }
  return { findings, running };
}

/** The running daemon: answers, same version as this binary, its services healthy. */
export async function checkDaemon(paths: Paths): Promise<Finding[]> {
  let client: CrabtalkClient;
  try {
    client = await CrabtalkClient.connect({ socket: paths.socket });
  } catch (err) {
    return [
      {
        check: "daemon",
        status: "fail",
        detail: (err as Error).message,
        fix: "start it with `crabtalk daemon` (or systemctl start crabtalk)",
      },
    ];
  }
  try {
    const status = (await client.request({ status: {} }, { timeoutMs: 5000 })).status!;
    const out: Finding[] = [];
    out.push(
      status.version === VERSION
        ? { check: "daemon", status: "ok", detail: `running, version ${status.version}, pid ${status.pid}` }
        : {
            check: "daemon",
            status: "warn",
            detail: `running version ${status.version}, but this binary is ${VERSION}`,
            fix: "restart the daemon so it runs the installed binary",
          },
    );
    try {
      const services = (await client.request({ getServices: {} }, { timeoutMs: 5000 })).serviceList?.services ?? [];
      for (const s of services) {
        const state = s.status;
        const bad = state === "failed" || state === "stopped";
        out.push({
          check: `service ${s.name}`,
          status: bad ? "fail" : "ok",
          detail: state || "running",
          ...(bad ? { fix: `crabtalk services logs ${s.name}; then crabtalk services restart ${s.name}` } : {}),
        });
      }
    } catch {
      // A daemon without services support: nothing to check there.
    }
    try {
      const servers = (await client.request({ mcpServers: {} }, { timeoutMs: 5000 })).mcpServers?.servers ?? [];
      for (const s of servers) {
        const bad = s.state === "failed";
        out.push({
          check: `mcp server ${s.name}`,
          status: bad ? "fail" : "ok",
          detail: bad ? `failed: ${s.error ?? `see logs/mcp-${s.name}.log`}` : s.state,
          ...(bad ? { fix: `check [mcp.${s.name}] (command or url), then crabtalk mcp tools ${s.name} to retry` } : {}),
        });
      }
    } catch {
      // No MCP support in that daemon: nothing to check.
    }
    return out;
  } finally {
    client.close();
  }
}

export function checkDisk(paths: Paths): Finding[] {
  const out: Finding[] = [];
  for (const [path, what] of [
    [paths.sessions, "sessions"],
    [paths.logs, "logs"],
  ] as const) {
    const at = existsSync(path) ? path : paths.home;
    if (!existsSync(at)) continue;
    const fs = statfsSync(at);
    const free = fs.bavail * fs.bsize;
    const mb = Math.floor(free / (1024 * 1024));
    out.push(
      free < LOW_DISK_BYTES
        ? {
            check: `disk for ${what}`,
            status: "warn",
            detail: `${mb} MB free at ${at}`,
            fix: "free disk space: a full disk ends turns with error 507",
          }
        : { check: `disk for ${what}`, status: "ok", detail: `${mb} MB free` },
    );
  }
  return out;
}

/** The systemd unit install.sh writes, when present: enabled, and (user unit) lingering so it survives logout. */
export function checkSystemd(env: Record<string, string | undefined>): Finding[] {
  const userUnit = join(env.HOME || homedir(), ".config", "systemd", "user", "crabtalk.service");
  const systemUnit = "/etc/systemd/system/crabtalk.service";
  const user = existsSync(userUnit);
  if (!user && !existsSync(systemUnit)) return [{ check: "systemd unit", status: "skip", detail: "not installed" }];
  const run = (cmd: string[]) => {
    try {
      const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString().trim() };
    } catch {
      return { code: 127, out: "" };
    }
  };
  const enabled = run(
    user ? ["systemctl", "--user", "is-enabled", "crabtalk"] : ["systemctl", "is-enabled", "crabtalk"],
  );
  const out: Finding[] = [
    enabled.out === "enabled"
      ? { check: "systemd unit", status: "ok", detail: `${user ? userUnit : systemUnit} enabled` }
      : {
          check: "systemd unit",
          status: "fail",
          detail: `${user ? userUnit : systemUnit} is ${enabled.out || "not enabled"}`,
          fix: user ? "systemctl --user enable --now crabtalk" : "sudo systemctl enable --now crabtalk",
        },
  ];
  if (user) {
    const name = env.USER || env.LOGNAME || "";
    const linger = run(["loginctl", "show-user", name, "-p", "Linger", "--value"]);
    out.push(
      linger.out === "yes"
        ? { check: "lingering", status: "ok", detail: "the user service keeps running after logout" }
        : {
            check: "lingering",
            status: "warn",
            detail: "off: the user service stops when you log out",
            fix: `sudo loginctl enable-linger ${name}`,
          },
    );
  }
  return out;
}
