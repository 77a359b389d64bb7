/**
 * The built-in tools' names, a leaf: the daemon checks config grants against
 * them before the tools themselves (tools/index.ts) are loaded.
 */
export const BUILTIN_TOOL_NAMES = ["bash", "read", "write", "edit"] as const;
