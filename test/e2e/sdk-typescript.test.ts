/**
 * Issue 24 acceptance for the TypeScript SDK: sdk/typescript is built and
 * packed with `npm pack`, the tarball is installed into an empty Node
 * project (protobufjs comes from the registry), and its example
 * (sdk/typescript/examples/turn.mjs) runs under Node against the compiled
 * daemon: it streams a turn, re-attaches mid-turn after the test cuts its
 * connection (through a proxy), and approves an `ask` tool.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, gate, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse, split } from "../helpers/sse-builders.ts";
import { cuttableProxy, type CuttableProxy, spawnLines } from "./sdk-kit.ts";

const SDK = join(import.meta.dir, "..", "..", "sdk", "typescript");
let project: string;
let fake: FakeProvider;
let d: DaemonHandle;
let proxy: CuttableProxy;

function run(cmd: string[], cwd: string): void {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: process.env });
  if (r.exitCode !== 0)
    throw new Error(`${cmd.join(" ")} failed in ${cwd}: ${r.stderr.toString()}${r.stdout.toString()}`);
}

beforeAll(async () => {
  // Build, pack, install into an empty project: what a user of the published package gets.
  run([process.execPath, "build.ts"], SDK);
  const packDir = tempHome("crabtalk-pack-");
  run(["npm", "pack", "--ignore-scripts", "--pack-destination", packDir], SDK);
  const tarball = readdirSync(packDir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack wrote no tarball in ${packDir}`);
  project = tempHome("crabtalk-consumer-");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", join(packDir, tarball)], project);
  copyFileSync(join(SDK, "examples", "turn.mjs"), join(project, "turn.mjs"));

  fake = await FakeProvider.start();
  d = await startDaemon({
    config: `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\ncwd = "${project}"\n[permissions]\nbash = "ask"\n`,
  });
  proxy = await cuttableProxy(d.socket);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await d?.cleanup();
  await fake?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

test("the tarball holds the bundle and declarations, and installs with its one dependency", () => {
  expect(existsSync(join(project, "node_modules", "@crabtalk", "client", "dist", "index.js"))).toBe(true);
  expect(existsSync(join(project, "node_modules", "@crabtalk", "client", "dist", "index.d.ts"))).toBe(true);
  expect(existsSync(join(project, "node_modules", "protobufjs"))).toBe(true);
});

test("its declarations type a consumer's code under strict tsc (nodenext, no skipLibCheck)", () => {
  writeFileSync(
    join(project, "consumer.ts"),
    [
      'import { CrabtalkClient, NotFound, type StreamEvent } from "@crabtalk/client";',
      "const client: CrabtalkClient = await CrabtalkClient.connect({ socket: process.argv[2] });",
      'for await (const event of client.stream("crab", "hi")) {',
      "  const text: string | undefined = event.chunk?.content;",
      "  const same: StreamEvent = event;",
      "  console.log(text, same.seq);",
      "}",
      "try {",
      "  await client.history(1);",
      "} catch (err) {",
      "  if (err instanceof NotFound) console.log(err.code satisfies number);",
      "}",
      // A wrong type must be caught, or the check proves nothing.
      "// @ts-expect-error version is a string",
      "const wrong: number = (await client.status()).version;",
      "console.log(wrong);",
    ].join("\n"),
  );
  const tsc = join(import.meta.dir, "..", "..", "node_modules", "typescript", "bin", "tsc");
  const types = join(import.meta.dir, "..", "..", "node_modules", "@types");
  const flags = [
    "--noEmit",
    "--strict",
    "--module",
    "nodenext",
    "--moduleResolution",
    "nodenext",
    "--target",
    "es2022",
  ];
  run(["node", tsc, ...flags, "--typeRoots", types, "--types", "node", "consumer.ts"], project);
});

test("under Node: a turn streams, and survives its connection being cut mid-turn (no gap, no duplicate)", async () => {
  const text = "one two three four five six seven eight nine ten eleven twelve";
  const pieces = split(text, 6);
  const sse = openaiSse({ model: "fake-model", text, textDeltas: 6 });
  // Hold the reply after the third text delta, so the cut lands mid-turn.
  const third = sse.indexOf(JSON.stringify(pieces[2]));
  const held = gate();
  fake.enqueue(sseReply(sse, { gate: held.promise, gateAfterBytes: sse.indexOf("\n\n", third) + 2 }));

  const p = spawnLines(["node", "turn.mjs", proxy.path, "crab", "count"], { cwd: project });
  await p.waitLine((l) => l.kind === "chunk" && String(l.text).includes(pieces[2]!.trim()), "the third delta");
  const before = proxy.accepted;
  proxy.cut();
  await p.waitLine((l) => l.kind === "reconnected", "a reconnect");
  expect(proxy.accepted).toBeGreaterThan(before);
  held.release();
  expect(await p.exited).toBe(0);

  const events = p.lines.filter((l) => typeof l.seq === "number");
  const seqs = events.map((l) => l.seq as number);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
  expect(
    events
      .filter((l) => l.kind === "chunk")
      .map((l) => l.text)
      .join(""),
  ).toBe(text);
  expect(events[0]!.kind).toBe("start");
  expect(events.at(-1)!.kind).toBe("end");
  expect(p.lines.at(-1)).toEqual({ kind: "done", stop: "stop" });
}, 60_000);

test("under Node: an ask tool is approved through the SDK and runs", async () => {
  const marker = join(project, "approved.marker");
  fake.enqueue(
    sseReply(
      openaiSse({
        model: "fake-model",
        toolCalls: [{ id: "call_sdk", name: "bash", args: { command: "touch approved.marker && echo ran" } }],
      }),
    ),
    sseReply(openaiSse({ model: "fake-model", text: "done" })),
  );
  const p = spawnLines(["node", "turn.mjs", proxy.path, "crab", "touch it"], { cwd: project });
  expect(await p.exited).toBe(0);
  const approved = p.lines.find((l) => l.kind === "approved");
  expect(approved).toMatchObject({ callId: "call_sdk", tool: "bash" });
  expect(p.lines.map((l) => l.kind)).toContain("toolResult");
  expect(existsSync(marker)).toBe(true);
}, 60_000);
