/**
 * `crabtalk services [--json]`: every configured service with its state,
 * pid, restarts, uptime, capabilities, tools and last error.
 * `crabtalk services logs NAME [-f] [-n N]`: the service's own log file
 * ($CRABTALK_HOME/logs/NAME.log: its stdout/stderr and the daemon's lines
 * about it); read directly, so it works when the daemon is down.
 * `crabtalk services restart NAME`: stops the service and starts it afresh.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { pathsFor, resolveHome } from "../config/paths.ts";
import { printLog } from "./logs.ts";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { CliFailure, connectionArgs, EXIT_USAGE, printJson, withClient } from "./shared.ts";

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

const listCommand = defineCommand({
  meta: { name: "list", description: "List the services with their state (the default)." },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print one JSON array instead of text" } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const services = (await client.request({ getServices: {} })).serviceList?.services ?? [];
      if (args.json) return printJson(services);
      if (services.length === 0) {
        process.stdout.write("no services configured (add [services.<name>] sections to crabtalk.toml)\n");
        return;
      }
      for (const s of services) {
        const up = s.status === "running" ? ` up ${duration(Number(s.uptimeMs))}` : "";
        const pid = s.pid ? ` pid ${s.pid}` : "";
        process.stdout.write(
          `${sanitize(s.name)}  ${s.status}${pid}${up}  restarts ${s.restarts}  (${sanitize(s.kind)})\n`,
        );
        if (s.capabilities.length) process.stdout.write(`  capabilities  ${s.capabilities.join(", ")}\n`);
        if (s.tools.length) process.stdout.write(`  tools         ${sanitize(s.tools.join(", "))}\n`);
        if (Number(s.droppedEvents) > 0) process.stdout.write(`  dropped events ${s.droppedEvents}\n`);
        if (s.lastError) process.stdout.write(`  last error    ${sanitize(s.lastError)}\n`);
      }
    });
  },
});

const logsCommand = defineCommand({
  meta: { name: "logs", description: "Print a service's log ($CRABTALK_HOME/logs/NAME.log). -f keeps following it." },
  args: {
    name: { type: "positional", required: true, description: "The service", valueHint: "NAME" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines as they are written" },
    lines: { type: "string", alias: "n", default: "50", description: "How many of the last lines to print first" },
  },
  async run({ args }) {
    const n = Number(args.lines);
    if (!Number.isInteger(n) || n < 0)
      throw new CliFailure(`-n expects a whole number, got "${args.lines}"`, EXIT_USAGE);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(args.name))
      throw new CliFailure(`"${args.name}" is not a service name`, EXIT_USAGE);
    const file = join(pathsFor(resolveHome()).logs, `${args.name}.log`);
    if (!existsSync(file) && !args.follow)
      throw new CliFailure(`no log at ${file}: is a service called "${args.name}" configured, and has it started?`);
    await printLog(file, n, args.follow === true);
  },
});

const restartCommand = defineCommand({
  meta: {
    name: "restart",
    description: "Stop a service and start it again (its backoff and failure count start over).",
  },
  args: {
    ...connectionArgs,
    name: { type: "positional", required: true, description: "The service", valueHint: "NAME" },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({ restartService: { service: args.name } });
      process.stdout.write(`${reply.ack?.message ?? "restarting"}\n`);
    });
  },
});

export const servicesCommand = defineCommand({
  meta: {
    name: "services",
    description:
      "List the daemon's services (extensions and gateways) with their state; `logs NAME` and `restart NAME`.",
  },
  default: "list",
  subCommands: { list: listCommand, logs: logsCommand, restart: restartCommand },
});
