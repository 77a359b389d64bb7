/**
 * The built-in tools of an agent, built for its working directory. The
 * daemon calls `builtinTools` once per agent; the names are exported for the
 * config parser's grant check.
 */
import type { Tool } from "../agent/types.ts";
import { createBashTool, type BashToolOptions } from "./bash.ts";
import { createEditTool } from "./edit.ts";
import type { FileOperations } from "./fs.ts";
import { createReadTool, type ReadToolOptions } from "./read.ts";
import { createWriteTool } from "./write.ts";

export const BUILTIN_TOOL_NAMES = ["bash", "read", "write", "edit"] as const;

export interface BuiltinToolsOptions {
  /** The agent's working directory: bash runs there, relative paths resolve there. */
  cwd: string;
  bash?: BashToolOptions;
  read?: Omit<ReadToolOptions, "operations">;
  /** File I/O for read, write and edit; the real filesystem by default. */
  operations?: FileOperations;
}

export function builtinTools(opts: BuiltinToolsOptions): Tool[] {
  const fileOpts = opts.operations ? { operations: opts.operations } : {};
  return [
    createBashTool(opts.cwd, opts.bash),
    createReadTool(opts.cwd, { ...opts.read, ...fileOpts }),
    createWriteTool(opts.cwd, fileOpts),
    createEditTool(opts.cwd, fileOpts),
  ];
}
