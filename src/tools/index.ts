/**
 * The built-in tools of an agent, built for its working directory, and the
 * same as tool-registry entries (source "builtin"), instantiated per agent.
 */
import type { Tool, ToolSource } from "../agent/types.ts";
import { createBashTool, type BashToolOptions } from "./bash.ts";
import { createEditTool } from "./edit.ts";
import type { FileOperations } from "./fs.ts";
import { createReadTool, type ReadToolOptions } from "./read.ts";
import { createWriteTool } from "./write.ts";
import type { AgentScope, ScopedTool } from "./registry.ts";
import { BUILTIN_TOOL_NAMES } from "./names.ts";

export { BUILTIN_TOOL_NAMES };

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

export const BUILTIN_SOURCE: ToolSource = { kind: "builtin", name: "builtin" };

/** The built-in tools as registry entries: each agent gets its own instances, working in its cwd. */
export function builtinToolEntries(opts: Omit<BuiltinToolsOptions, "cwd"> = {}): ScopedTool[] {
  return BUILTIN_TOOL_NAMES.map((name) => ({
    name,
    forAgent: (scope: AgentScope) => {
      const tool = builtinTools({ ...opts, cwd: scope.cwd }).find((t) => t.name === name);
      if (!tool) throw new Error(`no built-in tool ${name}`);
      return tool;
    },
  }));
}
