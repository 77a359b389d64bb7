/**
 * The `edit` tool: replaces an exact piece of text in a file. The text must
 * occur exactly once (or replace_all must be set), so an edit never lands
 * somewhere the model did not mean; a miss or an ambiguous match is an
 * error that says how to fix the call.
 */
import type { Tool } from "../agent/types.ts";
import {
  DEFAULT_MAX_FILE_BYTES,
  failure,
  nodeFileOperations,
  notRegular,
  refusalsAsResults,
  resolveToolPath,
  type FileOperations,
} from "./fs.ts";

export interface EditToolOptions {
  operations?: FileOperations;
}

export function createEditTool(cwd: string, opts: EditToolOptions = {}): Tool {
  const ops = opts.operations ?? nodeFileOperations;
  return {
    name: "edit",
    description:
      `Replace exact text in an existing file. old_string must match the file exactly, including whitespace and indentation, ` +
      `and must occur exactly once unless replace_all is true; include surrounding lines to make it unique. ` +
      `Relative paths are resolved against the working directory (${cwd}). Read the file first.`,
    parameters: {
      type: "object",
      properties: {
        path: {
          type: "string",
          minLength: 1,
          description: "File to edit, absolute or relative to the working directory.",
        },
        old_string: { type: "string", minLength: 1, description: "The exact text to replace." },
        new_string: { type: "string", description: "The text to put in its place." },
        replace_all: {
          type: "boolean",
          description: "Replace every occurrence instead of requiring exactly one. Default false.",
        },
      },
      required: ["path", "old_string", "new_string"],
      additionalProperties: false,
    },
    execute: (args) =>
      refusalsAsResults(async () => {
        const path = resolveToolPath(cwd, String(args.path));
        const oldString = String(args.old_string);
        const newString = String(args.new_string);
        const replaceAll = args.replace_all === true;
        if (oldString === newString) return failure("old_string and new_string are the same; nothing to change");

        const info = await ops.stat(path);
        if (!info) return failure(`file not found: ${path}; use write to create a file`);
        if (!info.isFile) return failure(notRegular(path, info.kind).message);
        const text = new TextDecoder().decode(await ops.readFile(path, DEFAULT_MAX_FILE_BYTES));

        const count = text.split(oldString).length - 1;
        if (count === 0)
          return failure(
            `old_string was not found in ${path}; read the file and copy the exact text, including whitespace and indentation`,
          );
        if (count > 1 && !replaceAll) {
          return failure(
            `old_string occurs ${count} times in ${path}; include more surrounding text so it occurs once, or set replace_all to true`,
          );
        }
        // split/join rather than String.replace: no special meaning for "$&" and friends in new_string.
        const updated = replaceAll ? text.split(oldString).join(newString) : replaceOnce(text, oldString, newString);
        await ops.writeFile(path, updated);
        return {
          output: `replaced ${replaceAll ? count : 1} occurrence${(replaceAll ? count : 1) === 1 ? "" : "s"} in ${path}`,
        };
      }),
  };
}

function replaceOnce(text: string, oldString: string, newString: string): string {
  const at = text.indexOf(oldString);
  return text.slice(0, at) + newString + text.slice(at + oldString.length);
}
