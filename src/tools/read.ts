/**
 * The `read` tool: a text file with line numbers, a window of it via offset
 * and limit. It refuses, with a reason the model can act on, what would
 * only waste context: directories, binary files, files over a size cap, and anything
 * that is not a regular file (a FIFO would block: see fs.ts).
 */
import type { Tool } from "../agent/types.ts";
import {
  DEFAULT_MAX_FILE_BYTES,
  failure,
  formatBytes,
  nodeFileOperations,
  notRegular,
  refusalsAsResults,
  resolveToolPath,
  type FileOperations,
} from "./fs.ts";

export interface ReadToolOptions {
  operations?: FileOperations;
  /** Files larger than this are refused; default 10 MB. */
  maxFileBytes?: number;
  /** Lines shown when the call gives no limit; default 2000. */
  defaultLimit?: number;
}

const DEFAULT_LIMIT = 2000;
/** Longer lines are cut: minified files would otherwise fill the context in one line. */
const MAX_LINE_CHARS = 2000;
/** About 12k tokens: a read result never crowds out the rest of the conversation. */
const MAX_OUTPUT_CHARS = 50 * 1024;
/** Bytes inspected for a NUL, the same heuristic git and grep use to call a file binary. */
const BINARY_SNIFF_BYTES = 8192;

export function createReadTool(cwd: string, opts: ReadToolOptions = {}): Tool {
  const ops = opts.operations ?? nodeFileOperations;
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const defaultLimit = opts.defaultLimit ?? DEFAULT_LIMIT;
  return {
    name: "read",
    description:
      `Read a text file. Output lines are numbered from 1 as "<number>\\t<line>". ` +
      `Relative paths are resolved against the working directory (${cwd}). ` +
      `Shows up to ${defaultLimit} lines; use offset (first line, 1-based) and limit (line count) to page through longer files. ` +
      `Refuses directories, binary files and files over ${formatBytes(maxFileBytes)}.`,
    parameters: {
      type: "object",
      properties: {
        path: {
          type: "string",
          minLength: 1,
          description: "File to read, absolute or relative to the working directory.",
        },
        offset: { type: "integer", minimum: 1, description: "1-based number of the first line to show. Default 1." },
        limit: {
          type: "integer",
          minimum: 1,
          description: `Maximum number of lines to show. Default ${defaultLimit}.`,
        },
      },
      required: ["path"],
      additionalProperties: false,
    },
    execute: (args) =>
      refusalsAsResults(async () => {
        const path = resolveToolPath(cwd, String(args.path));
        const info = await ops.stat(path);
        if (!info) return failure(`file not found: ${path}`);
        if (info.isDirectory) return failure(`${path} is a directory; use bash (ls) to list it`);
        if (!info.isFile) return failure(notRegular(path, info.kind).message);
        if (info.size > maxFileBytes) {
          return failure(
            `${path} is ${formatBytes(info.size)}, over the ${formatBytes(maxFileBytes)} limit for read; use bash with head, tail or grep to look at parts of it`,
          );
        }
        const bytes = await ops.readFile(path, maxFileBytes);
        if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0))
          return failure(`${path} looks like a binary file (it contains NUL bytes); read only shows text`);

        const text = new TextDecoder().decode(bytes);
        if (text.length === 0) return { output: `(${path} is empty)` };
        const lines = text.split("\n");
        if (lines.at(-1) === "") lines.pop(); // a trailing newline ends the last line, it does not start a new one
        const offset = typeof args.offset === "number" ? args.offset : 1;
        const limit = typeof args.limit === "number" ? args.limit : defaultLimit;
        if (offset > lines.length)
          return failure(`offset ${offset} is past the end of ${path}, which has ${lines.length} lines`);

        const end = Math.min(lines.length, offset - 1 + limit);
        const width = String(end).length;
        let out = "";
        let last = offset - 1;
        for (let i = offset - 1; i < end; i++) {
          let line = lines[i]!;
          if (line.length > MAX_LINE_CHARS)
            line = `${line.slice(0, MAX_LINE_CHARS)}… [line cut at ${MAX_LINE_CHARS} of ${line.length} characters]`;
          const numbered = `${String(i + 1).padStart(width)}\t${line}\n`;
          if (out.length + numbered.length > MAX_OUTPUT_CHARS && i > offset - 1) break;
          out += numbered;
          last = i + 1;
        }
        if (last < lines.length)
          out += `[showing lines ${offset}-${last} of ${lines.length}; use offset=${last + 1} to read more]\n`;
        return { output: out };
      }),
  };
}
