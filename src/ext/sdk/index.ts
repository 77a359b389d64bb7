/**
 * The crabtalk extension SDK: the one file third parties import.
 *
 *   import { defineExtension } from "crabtalk/src/ext/sdk/index.ts";
 *   defineExtension({ name: "hello", version: "0.1.0", tools: [...] }).serve();
 *
 * The daemon runs the extension with `serve --socket PATH` appended to its
 * configured args and speaks proto/ext.proto to it; everything about the
 * wire stays in here. See examples/extension-hello/ for a complete one.
 */
import { EXIT_FAILURE, EXIT_USAGE, parseServeArgs, serveSocket, UsageError } from "./server.ts";
import { capabilitiesOf, checkSpec, ExtensionDefinitionError } from "./spec.ts";
import type { ExtensionSpec } from "./types.ts";

export interface ServeOptions {
  /** End the process with the exit code when serving ends (default true). */
  exit?: boolean;
}

export interface Extension {
  readonly spec: ExtensionSpec;
  /**
   * Serves the daemon on the socket named in argv (default: this process's
   * arguments) until it shuts the extension down or goes away; resolves with
   * the exit code (0 done, 1 failed, 2 bad arguments), after exiting the
   * process with it unless `exit: false`.
   */
  serve(argv?: readonly string[], options?: ServeOptions): Promise<number>;
}

/** Checks the definition (throws ExtensionDefinitionError with what to fix) and returns it ready to serve. */
export function defineExtension(spec: ExtensionSpec): Extension {
  checkSpec(spec);
  return {
    spec,
    async serve(argv = process.argv.slice(2), options = {}) {
      let code: number;
      try {
        code = await serveSocket(spec, parseServeArgs(argv));
      } catch (err) {
        process.stderr.write(`[${spec.name}] ${(err as Error).message}\n`);
        code = err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
      }
      if (options.exit !== false) process.exit(code);
      return code;
    },
  };
}

export { capabilitiesOf, ExtensionDefinitionError, parseServeArgs, UsageError };
export { ToolFailure } from "./types.ts";
export type {
  AgentInfo,
  BuildAgentResult,
  ExtensionSpec,
  HandlerContext,
  Json,
  JsonObject,
  Message,
  ToolContext,
  ToolSpec,
} from "./types.ts";
