/**
 * The root command: every noun of the CLI as a subcommand. Each client
 * command is one request and a print.
 *
 * Every subcommand is a dynamic import(), so a command loads only its own
 * module and what that needs: `crabtalk status` never parses the renderer
 * or the daemon, and `crabtalk daemon` never parses the CLI's commands
 * (the compiled binary keeps each chunk inside and parses it on first use).
 * test/architecture.test.ts keeps this file free of static command imports.
 */
import { defineCommand, type CommandDef } from "citty";
import { VERSION } from "../util/version.ts";

export const cli: CommandDef = defineCommand({
  meta: {
    name: "crabtalk",
    version: VERSION,
    description:
      "The agent daemon that hides nothing. `crabtalk daemon` runs it; every other command is a client of its socket.",
  },
  subCommands: {
    daemon: () => import("./daemon.ts").then((m) => m.daemonCommand),
    status: () => import("./status.ts").then((m) => m.statusCommand),
    agents: () => import("./agents.ts").then((m) => m.agentsCommand),
    config: () => import("./config.ts").then((m) => m.configCommand),
    reload: () => import("./config.ts").then((m) => m.reloadCommand),
    doctor: () => import("./doctor.ts").then((m) => m.doctorCommand),
    tasks: () => import("./tasks.ts").then((m) => m.tasksCommand),
    logs: () => import("./logs.ts").then((m) => m.logsCommand),
    usage: () => import("./usage.ts").then((m) => m.usageCommand),
    sessions: () => import("./sessions.ts").then((m) => m.sessionsCommand),
    history: () => import("./sessions.ts").then((m) => m.historyCommand),
    kill: () => import("./sessions.ts").then((m) => m.killCommand),
    rm: () => import("./sessions.ts").then((m) => m.rmCommand),
    compact: () => import("./sessions.ts").then((m) => m.compactCommand),
    attach: () => import("./attach.ts").then((m) => m.attachCommand),
    send: () => import("./send.ts").then((m) => m.sendCommand),
    events: () => import("./events.ts").then((m) => m.eventsCommand),
    replay: () => import("./replay.ts").then((m) => m.replayCommand),
    skills: () => import("./skills.ts").then((m) => m.skillsCommand),
    mcp: () => import("./mcp.ts").then((m) => m.mcpCommand),
    services: () => import("./services.ts").then((m) => m.servicesCommand),
    memory: () => import("./memory.ts").then((m) => m.memoryCommand),
    search: () => import("./search.ts").then((m) => m.searchCommand),
    cron: () => import("./cron.ts").then((m) => m.cronCommand),
    publish: () => import("./publish.ts").then((m) => m.publishCommand),
    subscribe: () => import("./publish.ts").then((m) => m.subscribeCommand),
    unsubscribe: () => import("./publish.ts").then((m) => m.unsubscribeCommand),
    subscriptions: () => import("./publish.ts").then((m) => m.subscriptionsCommand),
    acp: () => import("./acp.ts").then((m) => m.acpCommand),
    telegram: () => import("./telegram.ts").then((m) => m.telegramCommand),
    token: () => import("./token.ts").then((m) => m.tokenCommand),
    tls: () => import("./tls.ts").then((m) => m.tlsCommand),
    dashboard: () => import("./dashboard.ts").then((m) => m.dashboardCommand),
  },
});
