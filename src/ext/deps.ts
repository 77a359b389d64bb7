/**
 * What the service hosts need from the daemon: where files go, the runtime
 * whose seams (registry, hooks, settings, usage) the capabilities join, and
 * what children inherit.
 */
import type { Paths } from "../config/paths.ts";
import type { SessionRuntime } from "../session/runtime.ts";

export interface HostDeps {
  paths: Paths;
  runtime: SessionRuntime;
  /** Rotation size of each service's log (the daemon log's). */
  logMaxBytes: number;
  /** Secrets scrubbed from services' output in their logs. */
  secrets: () => readonly string[];
  /** The allow-listed environment every child gets (tools' own), before the service's `env`. */
  childEnv: Record<string, string>;
  /** Told of every state change of a service (starting, running, restarting, failed, stopped). */
  onState?(service: string, state: string): void;
}
