/**
 * The daemon's one call into the extension host: the Services of a config,
 * wired to the runtime. Not started: the daemon starts them once its
 * listeners are open.
 */
import type { Config } from "../config/load.ts";
import type { Paths } from "../config/paths.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { allowedEnv } from "../tools/bash.ts";
import { Services } from "./supervisor.ts";
import { serviceSecrets } from "../config/services.ts";

export function createServices(
  config: Config,
  paths: Paths,
  runtime: SessionRuntime,
  secrets: () => readonly string[],
  onState?: (service: string, state: string) => void,
): Services {
  const own = serviceSecrets(config.services);
  return new Services(
    config.services,
    {
      paths,
      runtime,
      logMaxBytes: config.daemon.logMaxBytes,
      secrets: () => [...secrets(), ...own],
      childEnv: allowedEnv(process.env, paths.home),
      ...(onState ? { onState } : {}),
    },
    config.file,
  );
}
