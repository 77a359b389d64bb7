/**
 * Issue 11 item 4, through the compiled daemon: configured secrets never
 * leave through a tool. A `read` of crabtalk.toml (a literal api_key, a
 * header value) and `cat /proc/$PPID/environ` (a key the config reads from
 * ${VAR}) are redacted before the result reaches the wire, the session file
 * on disk and the next provider request; and a daemon running as an
 * ordinary user is non-dumpable, so its tools cannot read its environment
 * at all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chownSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabtalkClient } from "../../src/client/client.ts";
import { binaryPath, startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { FakeProvider, sseReply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { endOf, pidAlive, streamTurn, toolResultsOf, waitFor } from "../helpers/turn-kit.ts";

const LITERAL_KEY = "lit-SECRET-4f9a1c7e2b";
const ENV_KEY = "env-SECRET-8d3b6e0a5c";
const HEADER_VALUE = "hdr-SECRET-1e7c9b2f4d";
const SECRETS = [LITERAL_KEY, ENV_KEY, HEADER_VALUE];

function config(fakeUrl: string): string {
  return `[daemon]
tcp = false

[provider.fake]
kind = "openai"
base_url = "${fakeUrl}/v1"
models = ["fake-model"]
api_key = "${LITERAL_KEY}"
headers = { "X-Gateway-Token" = "${HEADER_VALUE}" }

[provider.other]
kind = "openai"
base_url = "${fakeUrl}/v1"
models = ["other-model"]
api_key = "\${CT_HARDENING_KEY}"

[agents.crab]
model = "fake-model"
`;
}

const reply = (turn: Parameters<typeof openaiSse>[0]) => sseReply(openaiSse({ model: "fake-model", ...turn }));

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return e.isFile() ? [p] : [];
  });
}

let fake: FakeProvider;
beforeAll(async () => {
  fake = await FakeProvider.start();
});
afterAll(async () => {
  await fake.stop();
});

describe("tool output redaction", () => {
  let d: DaemonHandle;
  beforeAll(async () => {
    d = await startDaemon({ config: config(fake.url), env: { CT_HARDENING_KEY: ENV_KEY } });
  });
  afterAll(async () => {
    await d.cleanup();
  });

  test("read of crabtalk.toml and cat of the daemon's environ: no secret on the wire, on disk or to the provider", async () => {
    fake.enqueue(
      reply({
        toolCalls: [
          { id: "call_read", name: "read", args: { path: "../crabtalk.toml" } },
          { id: "call_env", name: "bash", args: { command: "cat /proc/$PPID/environ | tr '\\0' '\\n'" } },
        ],
      }),
      reply({ text: "noted" }),
    );
    const before = fake.requests.length;
    const c = await d.client();
    const events = await streamTurn(c, { content: "show me your config" });
    c.close();
    expect(endOf(events).stopReason).toBe("stop");

    const results = new Map(events.filter((e) => e.toolResult).map((e) => [e.toolResult!.callId, e.toolResult!]));
    const read = results.get("call_read")!;
    expect(read.isError).toBe(false);
    // The file was really read (its non-secret lines are there), with every secret value replaced.
    expect(read.output).toContain('api_key = "***"');
    expect(read.output).toContain('headers = { "X-Gateway-Token" = "***" }');
    expect(read.output).toContain('api_key = "${CT_HARDENING_KEY}"');
    const env = results.get("call_env")!;
    if (process.getuid?.() === 0) {
      // root reads any environ (the documented limit): redaction is what keeps the key out.
      expect(env.output).toContain("CT_HARDENING_KEY=***");
    } else {
      expect(env.output).toContain("Permission denied");
    }

    const next = fake.requests[before + 1]!;
    expect(toolResultsOf(next).map((r) => r.id)).toEqual(["call_read", "call_env"]);
    const onDisk = filesUnder(d.home).filter((f) => f !== join(d.home, "crabtalk.toml"));
    expect(onDisk.some((f) => f.startsWith(join(d.home, "sessions")))).toBe(true);
    for (const secret of SECRETS) {
      for (const r of results.values()) expect(r.output).not.toContain(secret);
      expect(next.rawBody).not.toContain(secret);
      for (const f of onDisk) expect(readFileSync(f, "utf8")).not.toContain(secret);
    }
  });
});

const canRunAsNobody = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("runuser") !== null;

describe("the daemon's environment is hidden from its tools", () => {
  test.if(canRunAsNobody)(
    "a daemon run as nobody: bash cannot read /proc/$PPID/environ, though it reads its own",
    async () => {
      const home = tempHome("crabtalk-nobody-");
      writeFileSync(join(home, "crabtalk.toml"), config(fake.url));
      const nobody = Number(Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString().trim());
      chownSync(home, nobody, nobody);
      chownSync(join(home, "crabtalk.toml"), nobody, nobody);
      const runner = Bun.spawn(["runuser", "-u", "nobody", "--", binaryPath(), "daemon"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home, CT_HARDENING_KEY: ENV_KEY },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
      const stderr = new Response(runner.stderr).text();
      const lock = join(home, "crabtalk.lock");
      let daemonPid = 0;
      try {
        await waitFor(() => existsSync(join(home, "crabtalk.sock")) && existsSync(lock), 15_000, "the nobody daemon");
        daemonPid = Number(readFileSync(lock, "utf8").trim().split(" ")[0]);
        expect(statSync(`/proc/${daemonPid}/environ`).uid).toBe(0); // non-dumpable: its /proc files are root's

        fake.enqueue(
          reply({
            toolCalls: [
              {
                id: "call_env",
                name: "bash",
                args: { command: "id -un; tr '\\0' '\\n' < /proc/$$/environ | grep -c PWD=; cat /proc/$PPID/environ" },
              },
            ],
          }),
          reply({ text: "ok" }),
        );
        const c = await CrabtalkClient.connect({ home });
        const events = await streamTurn(c, { content: "env" });
        c.close();
        const out = events.find((e) => e.toolResult)!.toolResult!.output;
        // Same uid, own environ readable (1 PWD= line); the daemon's refused.
        expect(out).toMatch(/^nobody\n1\n/);
        expect(out).toContain(`/proc/${daemonPid}/environ: Permission denied`);
        expect(out).not.toContain("CT_HARDENING_KEY");
      } finally {
        if (daemonPid > 0 && pidAlive(daemonPid)) process.kill(daemonPid, "SIGTERM");
        await runner.exited;
      }
      expect(await stderr).not.toContain("tools may be able to read");
    },
  );
});
