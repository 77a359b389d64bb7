/**
 * Provider faults: turns against a model server that never answers,
 * answers headers then nothing, stops mid-stream, resets the connection
 * mid-stream, fails with 5xx on every attempt (a storm, through the
 * retries), fails with 5xx then recovers, or sends garbage for SSE. Every
 * fault turn must end with a clear error (ErrorMsg, or StreamEnd with an
 * error) before its deadline, and the same session must then take a good
 * turn. Timeouts are set short so the bound is seconds, not minutes.
 */
import { tempHome } from "../../test/helpers/daemon.ts";
import { errorReply, FakeProvider, gate, sseReply, type Reply } from "../../test/helpers/fake-provider.ts";
import { openaiSse } from "../../test/helpers/sse-builders.ts";
import { lastUserText } from "../../test/helpers/turn-kit.ts";
import { rmSync } from "node:fs";
import { alive, reliabilityConfig, runTurn, startQuietDaemon, type Row, type ScenarioOptions } from "./common.ts";

/** First-byte and idle timeouts of the provider under test, and its retries. */
const TIMEOUT_MS = 800;
const RETRIES = 2;
/**
 * A fault turn may take every attempt's timeout plus the backoffs between
 * them (500 ms doubling): 3 x 800 + 500 + 1000 = 3.9 s; 15 s leaves room for
 * a loaded machine and still catches a turn that never ends.
 */
const TURN_DEADLINE_MS = 15_000;

const good = (prompt: string) => `fine: ${prompt}`;
const goodSse = (prompt: string) => openaiSse({ model: "fake-model", text: good(prompt), textDeltas: 4 });

export async function faultsScenario(opts: ScenarioOptions): Promise<Row[]> {
  const perKind = opts.short ? 2 : 5;
  const release = gate();
  const attempts = new Map<string, number>();
  const faults: Record<string, (prompt: string, attempt: number) => Reply> = {
    silent: () => ({ kind: "silent" }),
    "headers then hang": () => ({ kind: "hang" }),
    "stall mid-stream": (p) => sseReply(goodSse(p), { gate: release.promise, gateAfterBytes: 300 }),
    "reset mid-stream": (p) => ({ kind: "reset", body: goodSse(p), afterBytes: 300 }),
    "5xx storm": () => errorReply(503, { error: { message: "overloaded", type: "server_error" } }),
    "5xx then recovery": (p, n) =>
      n < RETRIES ? errorReply(502, { error: { message: "bad gateway" } }) : sseReply(goodSse(p)),
    "garbage SSE": () =>
      sseReply(
        `data: {"choices":[{"delta":{"content":"x"}}]\n\ndata: \u0000\u0001garbage{{{\n\n${"\u00ff".repeat(64)}\n\n`,
      ),
    "html for SSE": () => ({
      kind: "body",
      body: "<html><body>502 Bad Gateway</body></html>",
      contentType: "text/html",
    }),
  };
  await using fake = await FakeProvider.start();
  fake.route((req) => {
    const prompt = lastUserText(req);
    const kind = Object.keys(faults).find((k) => prompt.startsWith(`${k} #`));
    if (!kind) return sseReply(goodSse(prompt));
    const n = attempts.get(prompt) ?? 0;
    attempts.set(prompt, n + 1);
    return faults[kind]!(prompt, n);
  });
  const home = tempHome("crabtalk-rel-faults-");
  await using d = await startQuietDaemon({
    home,
    config: reliabilityConfig(fake.url, {
      provider: `max_retries = ${RETRIES}\ntimeout_ms = ${TIMEOUT_MS}\nidle_timeout_ms = ${TIMEOUT_MS}`,
    }),
  });
  const rows: Row[] = [];
  try {
    // Each kind on its own connection and session, all kinds at once.
    const results = await Promise.all(
      Object.keys(faults).map(async (kind) => {
        const c = await d.client();
        let session: number | undefined;
        const r = { kind, clear: 0, hung: 0, usable: 0, maxMs: 0, sample: "" };
        for (let i = 0; i < perKind; i++) {
          const prompt = `${kind} #${i}`;
          const out = await runTurn(c, { content: prompt, session }, TURN_DEADLINE_MS);
          session ??= out.session;
          r.maxMs = Math.max(r.maxMs, out.ms);
          const recovers = kind === "5xx then recovery";
          // Clear: an error code and a message (ErrorMsg, or a StreamEnd whose stop reason is error).
          const code = out.error?.code ?? (out.end?.stopReason === "error" ? out.end.errorCode : 0);
          const message = out.error?.message ?? (out.end?.stopReason === "error" ? out.end.error : undefined);
          if (out.hung) r.hung++;
          else if (recovers ? out.end?.stopReason === "stop" && out.text === good(prompt) : code > 0 && message)
            r.clear++;
          r.sample ||= message ? `${code} ${message}` : (out.end?.stopReason ?? out.hung ?? "");
          // The session stays usable: a good turn right after the fault.
          const after = await runTurn(c, { content: `after ${prompt}`, session }, TURN_DEADLINE_MS);
          session ??= after.session;
          if (after.end?.stopReason === "stop" && after.text === good(`after ${prompt}`)) r.usable++;
        }
        c.close();
        return r;
      }),
    );
    for (const r of results) {
      opts.log(
        `${r.kind}: ${r.clear}/${perKind} clear, ${r.hung} hung, ${r.usable}/${perKind} usable after, max ${r.maxMs.toFixed(0)} ms; e.g. ${r.sample.slice(0, 140)}`,
      );
      const expect = r.kind === "5xx then recovery" ? "succeeded after retries" : "clear error";
      rows.push({
        scenario: "faults",
        check: `${r.kind}: ${expect}, then a good turn`,
        figure: `${r.clear}/${perKind} ${r.kind === "5xx then recovery" ? "ok" : "errors"}, ${r.hung} hung, max ${(r.maxMs / 1000).toFixed(1)} s, ${r.usable}/${perKind} usable`,
        pass: r.clear === perKind && r.hung === 0 && r.usable === perKind,
      });
    }
    rows.push({
      scenario: "faults",
      check: "daemon alive after the faults",
      figure: `timeouts ${TIMEOUT_MS} ms, ${RETRIES} retries, turn deadline ${TURN_DEADLINE_MS / 1000} s`,
      pass: alive(d),
    });
    return rows;
  } finally {
    release.release();
    rmSync(home, { recursive: true, force: true });
  }
}
