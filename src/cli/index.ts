/**
 * The root command: every noun of the CLI as a subcommand. Each client
 * command is one request and a print.
 */
import { defineCommand, type CommandDef } from "citty";
import { VERSION } from "../util/version.ts";
import { daemonCommand } from "./daemon.ts";
import { statusCommand } from "./status.ts";
import { agentsCommand } from "./agents.ts";
import { configCommand, reloadCommand } from "./config.ts";
import { doctorCommand } from "./doctor.ts";
import { tasksCommand } from "./tasks.ts";
import { logsCommand } from "./logs.ts";
import { usageCommand } from "./usage.ts";
import { attachCommand } from "./attach.ts";
import { sendCommand } from "./send.ts";
import { eventsCommand } from "./events.ts";
import { replayCommand } from "./replay.ts";
import { skillsCommand } from "./skills.ts";
import { mcpCommand } from "./mcp.ts";
import { servicesCommand } from "./services.ts";
import { memoryCommand } from "./memory.ts";
import { compactCommand, historyCommand, killCommand, rmCommand, sessionsCommand } from "./sessions.ts";
import { searchCommand } from "./search.ts";
import { tokenCommand } from "./token.ts";
import { tlsCommand } from "./tls.ts";
import { dashboardCommand } from "./dashboard.ts";
import { cronCommand } from "./cron.ts";
import { publishCommand, subscribeCommand, subscriptionsCommand, unsubscribeCommand } from "./publish.ts";

export const cli: CommandDef = defineCommand({
  meta: {
    name: "crabtalk",
    version: VERSION,
    description:
      "The agent daemon that hides nothing. `crabtalk daemon` runs it; every other command is a client of its socket.",
  },
  subCommands: {
    daemon: daemonCommand,
    status: statusCommand,
    agents: agentsCommand,
    config: configCommand,
    reload: reloadCommand,
    doctor: doctorCommand,
    tasks: tasksCommand,
    logs: logsCommand,
    usage: usageCommand,
    sessions: sessionsCommand,
    history: historyCommand,
    kill: killCommand,
    rm: rmCommand,
    compact: compactCommand,
    attach: attachCommand,
    send: sendCommand,
    events: eventsCommand,
    replay: replayCommand,
    skills: skillsCommand,
    mcp: mcpCommand,
    services: servicesCommand,
    memory: memoryCommand,
    search: searchCommand,
    cron: cronCommand,
    publish: publishCommand,
    subscribe: subscribeCommand,
    unsubscribe: unsubscribeCommand,
    subscriptions: subscriptionsCommand,
    acp: () => import("./acp.ts").then((m) => m.acpCommand),
    telegram: () => import("./telegram.ts").then((m) => m.telegramCommand),
    token: tokenCommand,
    tls: tlsCommand,
    dashboard: dashboardCommand,
  },
});
