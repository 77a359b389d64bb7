/**
 * `crabtalk status`: is the daemon up, which version, since when, where.
 */
import { defineCommand } from "citty";
import { connectionArgs, printJson, withClient } from "./shared.ts";

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export const statusCommand = defineCommand({
  meta: {
    name: "status",
    description:
      "Show whether the daemon is running: its version, protocol version, uptime, socket, TCP port and sessions. Exits 1 when it is not running.",
  },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print one JSON object instead of text" } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({ status: {} });
      const s = reply.status!;
      if (args.json) return printJson(s);
      const rows: [string, string][] = [
        ["daemon", `crabtalk ${s.version} (protocol ${s.protocolVersion}, pid ${s.pid})`],
        ["uptime", formatDuration(s.uptimeMs)],
        ["home", s.home],
        ["socket", s.socket],
        ["tcp", s.tcpPort ? `127.0.0.1:${s.tcpPort}` : "off"],
        ["http", s.httpUrl || "off"],
        ["sessions", `${s.sessions} (${s.runningTurns} running)`],
        ["clients", String(s.connections)],
      ];
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(9)} ${v}\n`);
    });
  },
});
