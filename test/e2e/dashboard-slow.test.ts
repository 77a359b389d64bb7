/**
 * A stalled dashboard tab cannot grow the daemon: a real process opens the
 * bridge, subscribes to every event and is frozen with SIGSTOP (so it truly
 * stops reading its WebSocket). A long turn still finishes for the client
 * that started it, and the daemon drops the frozen tab after
 * client_stall_timeout_ms, as it drops any stalled socket client, instead of
 * queueing the turn's 20 MB for it.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { clientMessage } from "../../src/protocol/codec.ts";
import { runCli, startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { streamTurn } from "../helpers/turn-kit.ts";
import { openLink, sessionCookie } from "../helpers/ws-bridge.ts";
import { homeEnv } from "./remote-kit.ts";

setDefaultTimeout(90_000);

/** 20,000 deltas of 1 KB: far beyond the queue (256 frames / 4 MiB) and the kernel's socket buffers together. */
const DELTAS = 20_000;
const longText = Array.from({ length: DELTAS }, (_, i) => `${String(i).padStart(6, "0")}${"x".repeat(994)}`).join("");

/** The frozen tab: opens the bridge, subscribes to all events, says "ready" at the first reply and reports its close. */
const CHILD = `
const ws = new WebSocket(process.env.URL, { headers: { Cookie: process.env.COOKIE, Origin: process.env.ORIGIN } });
ws.binaryType = "arraybuffer";
let seen = 0;
ws.onopen = () => {
  ws.send(Buffer.from(process.env.SUBSCRIBE, "hex"));
  ws.send(Buffer.from(process.env.PING, "hex"));
};
ws.onmessage = () => { if (seen++ === 0) console.error("ready"); };
ws.onclose = (e) => { console.error("closed " + e.code); process.exit(0); };
`;

let fake: FakeProvider;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await FakeProvider.start();
  d = await startDaemon({
    config: `[daemon]\ntcp = false\nhttp = "127.0.0.1:0"\nclient_stall_timeout_ms = 1000\n[provider.fake]\nkind = "openai"\nbase_url = "${fake.url}/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n`,
  });
});
afterAll(async () => {
  await d.cleanup();
  await fake.stop();
});

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

test("a frozen tab never slows a turn and is dropped after the stall timeout", async () => {
  const port = Number(readFileSync(join(d.home, "crabtalk.http"), "utf8").trim());
  const base = `http://127.0.0.1:${port}`;
  const login = JSON.parse((await runCli(["dashboard", "--json"], homeEnv(d.home))).stdout) as { url: string };
  const cookie = sessionCookie(await openLink(login.url));
  const child = Bun.spawn([process.execPath, "-e", CHILD], {
    env: {
      PATH: process.env.PATH ?? "",
      URL: `ws://127.0.0.1:${port}/ws`,
      COOKIE: cookie,
      ORIGIN: base,
      SUBSCRIBE: Buffer.from(clientMessage.encode({ subscribeEvents: {}, requestId: 1 })).toString("hex"),
      PING: Buffer.from(clientMessage.encode({ ping: {}, requestId: 2 })).toString("hex"),
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr = child.stderr.getReader();
  expect(new TextDecoder().decode((await stderr.read()).value)).toContain("ready");
  child.kill("SIGSTOP");
  try {
    const rssBefore = rssKb(d.proc.pid);
    // Paced (64 KiB, then 1 ms): this process is both the model and the turn's reader, and a model that sends
    // 20 MB at once can leave the reader, starved of CPU, more than 4,096 events behind (it is then dropped
    // with a re-attach hint, by design). The frozen tab falls behind all the same: its queue fills in a few ms.
    fake.route(() =>
      sseReply(openaiSse({ text: longText, textDeltas: DELTAS }), { chunkSizes: [64 * 1024], chunkDelayMs: 1 }),
    );
    const c = await d.client();
    const turn = await streamTurn(c, { content: "a long answer" });
    c.close();
    expect(turn.at(-1)?.event).toBe("end");
    await d.waitLog("stopped reading for 1000 ms", 20_000);
    const line = d
      .stderr()
      .split("\n")
      .find((l) => l.includes("stopped reading for 1000 ms"))!;
    expect(line).toContain("dashboard connection");
    console.log(
      `daemon RSS ${Math.round(rssBefore / 1024)} MB before the 20 MB turn, ${Math.round(rssKb(d.proc.pid) / 1024)} MB after dropping the frozen tab`,
    );
  } finally {
    child.kill("SIGCONT");
  }
  // Thawed, the tab finds its WebSocket closed by the daemon.
  let rest = "";
  for (let r = await stderr.read(); !r.done; r = await stderr.read()) rest += new TextDecoder().decode(r.value);
  expect(rest).toContain("closed");
  expect(await child.exited).toBe(0);
});
