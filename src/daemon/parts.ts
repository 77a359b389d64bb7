/**
 * What the daemon loads after its socket accepts: the session runtime, the
 * tools, providers, services, MCP, cron, the event bus and their handlers.
 * Daemon.startLocked reaches this module only through a dynamic import(), so
 * the compiled binary parses none of it before clients can connect
 * (test/architecture.test.ts keeps daemon.ts from importing these statically).
 */
export { assembleRuntime, settingsFrom } from "./assemble.ts";
export { ConfigControl } from "./config-control.ts";
export { installDelegation } from "../delegation/install.ts";
export { createServices } from "../ext/start.ts";
export { installFeatures } from "./features.ts";
export { mcpReloadParticipant, startMcp } from "./mcp.ts";
export { startCron } from "./cron.ts";
export { startBus } from "./bus.ts";
export { unimplementedHandlers } from "./handlers/unimplemented.ts";
export { taskHandlers } from "./handlers/tasks.ts";
export { turnHandlers } from "./handlers/turns.ts";
export { sessionHandlers } from "./handlers/sessions.ts";
export { serviceHandlers } from "./handlers/services.ts";
export { mcpHandlers } from "./handlers/mcp.ts";
export { cronHandlers } from "./handlers/cron.ts";
export { busHandlers } from "./handlers/bus.ts";
export { dashboardHandlers } from "./handlers/dashboard.ts";
