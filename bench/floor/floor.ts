/**
 * The floor program for the start-up bench (issue 20): what any Bun program
 * with crabtalk's libraries costs before it does anything of its own. It
 * loads protobufjs, smol-toml, citty and consola eagerly and really uses
 * each (parses a small TOML, runs as a citty command, logs through consola
 * at a level that prints nothing, decodes and encodes frames with
 * protobufjs), so none of them can be dropped as dead code.
 *
 *   floor serve SOCKET    listen on a Unix socket; answer every 4-byte
 *                         length-prefixed frame with one frame
 *   floor client SOCKET   connect, send one frame, read the reply, exit 0
 *
 * bench/startup.ts compiles it exactly as the daemon is compiled (see
 * compileExecutable in scripts/build-binary.ts) into .tmp/ and measures
 * crabtalk against it in the same run, so the ratio is measured, not
 * remembered. Its citty is citty as published, node:util and all:
 * crabtalk's build gives its own citty a port of parseArgs instead
 * (cittyParser), code of crabtalk's that any program could write, and the
 * floor stands for programs that did not.
 */
import { existsSync, unlinkSync } from "node:fs";
import { defineCommand, runCommand } from "citty";
import { createConsola } from "consola";
import protobuf from "protobufjs/light.js";
import { parse as parseToml } from "smol-toml";

const SETTINGS = parseToml('[floor]\nreply = "pong"\nlevel = 1\n') as { floor: { reply: string; level: number } };
// consola level 1 prints warnings and errors only: the info line below costs its formatting and prints nothing.
const log = createConsola({ level: SETTINGS.floor.level });

const Frame = protobuf.Root.fromJSON({
  nested: { Frame: { fields: { id: { type: "uint32", id: 1 }, text: { type: "string", id: 2 } } } },
}).lookupType("Frame");

function frameOf(id: number, text: string): Uint8Array {
  const payload = Frame.encode(Frame.fromObject({ id, text })).finish();
  const out = new Uint8Array(4 + payload.byteLength);
  new DataView(out.buffer).setUint32(0, payload.byteLength, false);
  out.set(payload, 4);
  return out;
}

/** Calls `onFrame` with each complete frame's payload as bytes arrive in pieces. */
function frameSplitter(onFrame: (payload: Uint8Array) => void): (chunk: Uint8Array) => void {
  let held = new Uint8Array(0);
  return (chunk) => {
    const all = new Uint8Array(held.byteLength + chunk.byteLength);
    all.set(held);
    all.set(chunk, held.byteLength);
    let off = 0;
    while (all.byteLength - off >= 4) {
      const len = new DataView(all.buffer, off, 4).getUint32(0, false);
      if (all.byteLength - off - 4 < len) break;
      onFrame(all.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    held = all.slice(off);
  };
}

function serve(path: string): void {
  if (existsSync(path)) unlinkSync(path);
  Bun.listen<(chunk: Uint8Array) => void>({
    unix: path,
    socket: {
      open(socket) {
        socket.data = frameSplitter((payload) => {
          const req = Frame.toObject(Frame.decode(payload)) as { id: number };
          socket.write(frameOf(req.id, SETTINGS.floor.reply));
        });
      },
      data(socket, chunk) {
        socket.data(chunk);
      },
    },
  });
  log.info(`floor listening on ${path}`);
  process.on("SIGTERM", () => process.exit(0));
}

async function client(path: string): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  const split = frameSplitter((payload) => resolve((Frame.toObject(Frame.decode(payload)) as { text: string }).text));
  const socket = await Bun.connect({
    unix: path,
    socket: { data: (_s, chunk) => split(chunk), close: () => reject(new Error("closed before the reply")) },
  });
  socket.write(frameOf(1, "ping"));
  const reply = await promise;
  log.info(`floor client got ${reply}`);
  socket.end();
}

const socketArg = { socket: { type: "positional", required: true, description: "Unix socket path" } } as const;
const main = defineCommand({
  meta: { name: "floor", description: "The start-up floor: crabtalk's libraries and a Unix socket, nothing else" },
  subCommands: {
    serve: defineCommand({ args: socketArg, run: ({ args }) => serve(args.socket) }),
    client: defineCommand({ args: socketArg, run: ({ args }) => client(args.socket) }),
  },
});

await runCommand(main, { rawArgs: process.argv.slice(2) });
if (process.argv[2] === "client") process.exit(0);
