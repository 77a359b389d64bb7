/**
 * The `write` tool: creates or overwrites a file with the given content,
 * creating missing parent directories, and reports what it wrote. Only
 * regular files (or new paths) are written; see fs.ts.
 */
import { dirname } from "node:path";
import type { Tool } from "../agent/types.ts";
import {
  failure,
  nodeFileOperations,
  notRegular,
  refusalsAsResults,
  resolveToolPath,
  type FileOperations,
} from "./fs.ts";

export interface WriteToolOptions {
  operations?: FileOperations;
}

export function createWriteTool(cwd: string, opts: WriteToolOptions = {}): Tool {
  const ops = opts.operations ?? nodeFileOperations;
  return {
    name: "write",
    description:
      `Write a file, replacing it if it exists; missing parent directories are created. ` +
      `Relative paths are resolved against the working directory (${cwd}). ` +
      `To change part of an existing file, prefer edit.`,
    parameters: {
      type: "object",
      properties: {
        path: {
          type: "string",
          minLength: 1,
          description: "File to write, absolute or relative to the working directory.",
        },
        content: { type: "string", description: "The complete new content of the file." },
      },
      required: ["path", "content"],
      additionalProperties: false,
    },
    execute: (args) =>
      refusalsAsResults(async () => {
        const path = resolveToolPath(cwd, String(args.path));
        const content = String(args.content);
        const existing = await ops.stat(path);
        if (existing?.isDirectory) return failure(`${path} is a directory; give a file path`);
        if (existing && !existing.isFile) return failure(notRegular(path, existing.kind).message);
        await ops.mkdirp(dirname(path));
        await ops.writeFile(path, content);
        const bytes = new TextEncoder().encode(content).length;
        return { output: `${existing ? "overwrote" : "created"} ${path} (${bytes} bytes written)` };
      }),
  };
}
