/**
 * The config and paths as local commands read them (`crabtalk skills`,
 * `crabtalk memory`): these work on plain files under $CRABTALK_HOME, with
 * or without a running daemon, which sees every change on its next read.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseConfig, type Config } from "../config/load.ts";
import { pathsFor, resolveHome, type Paths } from "../config/paths.ts";

export function localSetup(env: Record<string, string | undefined> = process.env): { paths: Paths; config: Config } {
  const paths = pathsFor(resolveHome(env));
  // Tool grants do not matter here, so no built-in tool list is needed. No config yet: the daemon's defaults (agent crab, no skills, shared memory) apply.
  const text = existsSync(paths.config) ? readFileSync(paths.config, "utf8") : "";
  const config = parseConfig(text, { file: paths.config, env }, { home: paths.home, builtinTools: [] });
  return { paths, config };
}
