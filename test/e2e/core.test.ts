/**
 * End-to-end tests of the daemon core against the compiled binary: both
 * transports, lifecycle (single instance, stale files, clean shutdown) and
 * every kind of bad input, after which the daemon still serves others.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabtalkClient } from "../../src/client/client.ts";
import { clientMessage } from "../../src/protocol/codec.ts";
import { binaryPath, startDaemon, runCli, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import { frame, lengthPrefix, rawConnect } from "../helpers/raw-socket.ts";
import { waitFor } from "../helpers/turn-kit.ts";

async function pingWorks(d: DaemonHandle): Promise<boolean> {
  const c = await d.client();
  try {
    return (await c.request({ ping: {} })).msg === "pong";
  } finally {
    c.close();
  }
}

describe("transports", () => {
  let d: DaemonHandle;
  beforeAll(async () => {
    d = await startDaemon({ config: '[daemon]\ntcp = "127.0.0.1:0"\n' });
  });
  afterAll(() => d.cleanup());

  test("ping over the Unix socket, with versions", async () => {
    const c = await d.client();
    const reply = await c.request({ ping: {} });
    expect(reply.pong!.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(reply.pong!.protocolVersion).toBe(1);
    c.close();
  });

  test("ping over TCP via the port file, and via HOST:PORT", async () => {
    const port = d.tcpPort();
    expect(port).toBeGreaterThan(0);
    const viaFile = await CrabtalkClient.connect({ home: d.home, tcp: true });
    expect((await viaFile.request({ ping: {} })).msg).toBe("pong");
    viaFile.close();
    const direct = await CrabtalkClient.connect({ tcp: `127.0.0.1:${port}` });
    expect((await direct.request({ ping: {} })).msg).toBe("pong");
    direct.close();
  });

  test.if(process.platform === "linux" && process.getuid?.() === 0 && Bun.which("runuser") !== null)(
    "loopback TCP from another local user is refused with 403, as the owner-only socket would refuse it",
    async () => {
      const other = Bun.spawn(
        ["runuser", "-u", "nobody", "--", binaryPath(), "--tcp", `127.0.0.1:${d.tcpPort()}`, "status"],
        {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", CRABTALK_HOME: "/tmp/crabtalk-nobody" },
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      const [stderr, code] = await Promise.all([new Response(other.stderr).text(), other.exited]);
      expect(code).toBe(1);
      expect(stderr).toContain("403");
      expect(stderr).toContain("another user");
      await d.waitLog("refusing connection");
      // The owner is still served over TCP.
      const mine = await CrabtalkClient.connect({ tcp: `127.0.0.1:${d.tcpPort()}` });
      expect((await mine.request({ ping: {} })).msg).toBe("pong");
      mine.close();
    },
  );

  test("socket is owner-only, home is 0700", () => {
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    expect(statSync(d.home).mode & 0o777).toBe(0o700);
  });

  test("two requests multiplexed on one connection are answered by id", async () => {
    const conn = await rawConnect({ unix: d.socket });
    // Both in one write: the reader splits them; each reply echoes its id.
    const a = frame(clientMessage.encode({ status: {}, requestId: 41 }));
    const b = frame(clientMessage.encode({ ping: {}, requestId: 42 }));
    conn.write(new Uint8Array([...a, ...b]));
    const replies = [await conn.next(), await conn.next()];
    const byId = new Map(replies.map((r) => [r!.requestId, r!.msg]));
    expect(byId.get(41)).toBe("status");
    expect(byId.get(42)).toBe("pong");
    conn.close();
  });

  test("a frame split across many writes is reassembled", async () => {
    const conn = await rawConnect({ unix: d.socket });
    const bytes = frame(clientMessage.encode({ ping: {}, requestId: 7 }));
    for (const byte of bytes) {
      conn.write(new Uint8Array([byte]));
      await Bun.sleep(1); // the scenario: separate writes, so the daemon reads separate chunks
    }
    expect((await conn.next())!.requestId).toBe(7);
    conn.close();
  });

  test("status CLI prints version, socket and port; --json for scripts", async () => {
    const text = await runCli(["status"], { CRABTALK_HOME: d.home });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(d.socket);
    const json = await runCli(["status", "--json"], { CRABTALK_HOME: d.home });
    const s = JSON.parse(json.stdout);
    expect(s.tcpPort).toBe(d.tcpPort());
    expect(s.protocolVersion).toBe(1);
  });

  test("global --socket and --tcp work before the command", async () => {
    const elsewhere = tempHome();
    const viaSocket = await runCli(["--socket", d.socket, "status", "--json"], { CRABTALK_HOME: elsewhere });
    expect(viaSocket.code).toBe(0);
    expect(JSON.parse(viaSocket.stdout).home).toBe(d.home);
    const viaTcp = await runCli(["--tcp", `127.0.0.1:${d.tcpPort()}`, "status", "--json"], {
      CRABTALK_HOME: elsewhere,
    });
    expect(viaTcp.code).toBe(0);
    const viaPortFile = await runCli(["--tcp", "status"], { CRABTALK_HOME: d.home });
    expect(viaPortFile.code).toBe(0);
  });
});

describe("bad input", () => {
  let d: DaemonHandle;
  beforeAll(async () => {
    d = await startDaemon({ config: "[daemon]\ntcp = false\n" });
  });
  afterAll(() => d.cleanup());

  test("a length over 16 MiB: ErrorMsg 413, then the connection closes", async () => {
    const conn = await rawConnect({ unix: d.socket });
    conn.write(lengthPrefix(16 * 1024 * 1024 + 1));
    const reply = await conn.next();
    expect(reply!.error!.code).toBe(413);
    expect(reply!.error!.message).toContain("16777216");
    await conn.closed;
    expect(await pingWorks(d)).toBe(true);
  });

  test("a payload that does not decode: ErrorMsg 400, connection stays usable", async () => {
    const conn = await rawConnect({ unix: d.socket });
    conn.write(frame(new Uint8Array([0x12, 0x05, 0x01])));
    const reply = await conn.next();
    expect(reply!.error!.code).toBe(400);
    expect(reply!.error!.message).toContain("malformed frame");
    conn.write(frame(clientMessage.encode({ ping: {} })));
    expect((await conn.next())!.msg).toBe("pong");
    conn.close();
  });

  test("an empty message: ErrorMsg 400", async () => {
    const conn = await rawConnect({ unix: d.socket });
    conn.write(lengthPrefix(0));
    const reply = await conn.next();
    expect(reply!.error!.code).toBe(400);
    expect(reply!.error!.message).toContain("empty message");
    conn.close();
  });

  test("an unknown request (a field this daemon does not know): ErrorMsg 400", async () => {
    const conn = await rawConnect({ unix: d.socket });
    // Field 99, length-delimited, empty: a request from some future protocol.
    conn.write(frame(new Uint8Array([0x9a, 0x06, 0x00])));
    const reply = await conn.next();
    expect(reply!.error!.code).toBe(400);
    expect(reply!.error!.message).toContain("unknown request");
    conn.close();
  });

  test("features of later releases answer 501 naming the feature", async () => {
    const c = await d.client();
    for (const [req, word] of [
      [{ downloads: {} }, "downloads"],
      [{ hub: {} }, "hub packages"],
    ] as const) {
      await expect(c.request(req)).rejects.toMatchObject({ code: 501, message: expect.stringContaining(word) });
    }
    c.close();
  });

  test("a truncated frame followed by disconnect harms nobody", async () => {
    const conn = await rawConnect({ unix: d.socket });
    conn.write(new Uint8Array([...lengthPrefix(100), 1, 2, 3]));
    conn.close();
    // The daemon has let go of the closed connection: only the asker's own is left.
    const c = await d.client();
    try {
      await waitFor(
        async () => Number((await c.request({ status: {} })).status!.connections) === 1,
        10_000,
        "the daemon to count only the asking connection",
      );
      expect((await c.request({ ping: {} })).msg).toBe("pong");
    } finally {
      c.close();
    }
    expect(d.proc.exitCode).toBeNull();
  });
});

describe("lifecycle", () => {
  test("a second daemon on the same home is refused and leaves the first alone", async () => {
    await using first = await startDaemon();
    const pid = first.proc.pid;
    const second = await runCli(["daemon"], { CRABTALK_HOME: first.home, HOME: first.home });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`already running (pid ${pid})`);
    expect(await pingWorks(first)).toBe(true);
    expect(existsSync(join(first.home, "crabtalk.lock"))).toBe(true);
  });

  test("stale socket and lock left by kill -9 are replaced", async () => {
    const home = tempHome();
    const first = await startDaemon({ home });
    await first.kill9();
    expect(existsSync(join(home, "crabtalk.sock"))).toBe(true);
    expect(existsSync(join(home, "crabtalk.lock"))).toBe(true);
    await using second = await startDaemon({ home });
    expect(await pingWorks(second)).toBe(true);
    await second.waitLog("stale lock");
  });

  test("a lock naming a dead pid is stale too", async () => {
    const home = tempHome();
    writeFileSync(join(home, "crabtalk.lock"), "999999\n");
    await using d = await startDaemon({ home });
    expect(await pingWorks(d)).toBe(true);
  });

  test("SIGTERM and SIGINT exit 0 and leave no socket, port or lock file", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const d = await startDaemon();
      expect(await d.stop(signal)).toBe(0);
      const left = readdirSync(d.home).filter((f) => f.startsWith("crabtalk.") && f !== "crabtalk.toml");
      expect(left).toEqual([]);
      await d.cleanup();
    }
  });

  test("SIGHUP is reserved for reload: the daemon logs it and keeps serving", async () => {
    await using d = await startDaemon();
    d.proc.kill("SIGHUP");
    await waitFor(() => d.stderr().includes("SIGHUP"), 10_000, "the daemon to log the SIGHUP");
    expect(d.proc.exitCode).toBeNull();
    expect(await pingWorks(d)).toBe(true);
  });

  test("a bad config is refused with file, line and fix, exit 1", async () => {
    const home = tempHome();
    writeFileSync(join(home, "crabtalk.toml"), "[daemon]\ntcp = 127.0.0.1:6688\n");
    const r = await runCli(["daemon"], { CRABTALK_HOME: home, HOME: home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("crabtalk.toml:2");
    expect(r.stderr).toContain("Fix:");
    expect(existsSync(join(home, "crabtalk.lock"))).toBe(false);
  });

  test("client commands say how to start a daemon that is not running (exit 1); usage errors exit 2", async () => {
    const home = tempHome();
    const r = await runCli(["status"], { CRABTALK_HOME: home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("crabtalk daemon");
    expect((await runCli(["no-such-command"], { CRABTALK_HOME: home })).code).toBe(2);
    expect((await runCli(["logs", "-n", "x"], { CRABTALK_HOME: home })).code).toBe(2);
    const help = await runCli(["status", "--help"], { CRABTALK_HOME: home });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--socket");
  });

  test("`crabtalk logs -f` follows new lines as the daemon writes them", async () => {
    await using d = await startDaemon();
    const follower = Bun.spawn([binaryPath(), "logs", "-f", "-n", "0"], {
      env: { PATH: process.env.PATH ?? "", CRABTALK_HOME: d.home },
      stdout: "pipe",
      stderr: "ignore",
    });
    let seen = "";
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of follower.stdout) seen += decoder.decode(chunk);
    })();
    // When the follower is ready to see new lines cannot be observed from outside, so the daemon is
    // made to log a line (one per SIGHUP) every 200 ms until the follower prints one.
    try {
      await waitFor(
        async () => {
          if (seen.includes("SIGHUP")) return true;
          d.proc.kill("SIGHUP");
          await Bun.sleep(200);
          return seen.includes("SIGHUP");
        },
        10_000,
        "`crabtalk logs -f` to print a line the daemon logged after it started",
      );
    } finally {
      follower.kill();
    }
    expect(seen).not.toContain("listening on"); // -n 0: nothing from before
  });

  test("logs are written to the log file and `crabtalk logs -n` reads them", async () => {
    const d = await startDaemon();
    await d.stop();
    const r = await runCli(["logs", "-n", "2"], { CRABTALK_HOME: d.home });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").length).toBe(2);
    expect(r.stdout).toContain("stopped");
    await d.cleanup();
  });
});

describe("connection limits", () => {
  test("the 1,025th client is refused with a clear error; the others keep working", async () => {
    await using d = await startDaemon({ config: "[daemon]\ntcp = false\n" });
    const conns = [];
    for (let i = 0; i < 1024; i++) {
      conns.push(await rawConnect({ unix: d.socket }));
      // A connect completes once the kernel queues it, before the daemon accepts it; Bun listens with a
      // backlog of 512, so a client that runs ahead of a daemon slowed by a loaded CPU is refused by the
      // kernel ("Failed to connect"), not by the daemon. Every 128 connections, a pong on the newest says
      // the daemon has accepted all of them (the accept queue is FIFO), so at most 128 wait in the queue.
      if (i % 128 === 127) {
        conns[i]!.write(frame(clientMessage.encode({ ping: {}, requestId: 100 + i })));
        expect((await conns[i]!.next(30_000))!.msg).toBe("pong");
      }
    }
    // The last pong above (on conns[1023]) says the daemon has registered all 1,024 before we try one more.
    const extra = await rawConnect({ unix: d.socket });
    const refusal = await extra.next();
    expect(refusal!.error!.code).toBe(503);
    expect(refusal!.error!.message).toContain("1024 clients");
    await extra.closed;
    conns[0]!.write(frame(clientMessage.encode({ ping: {}, requestId: 2 })));
    expect((await conns[0]!.next())!.msg).toBe("pong");
    for (const c of conns) c.close();
  }, 60_000);

  test("a frame left half-sent past the client stall timeout is dropped; one completed in time is served", async () => {
    await using d = await startDaemon({ config: "[daemon]\ntcp = false\nclient_stall_timeout_ms = 600\n" });
    const bytes = frame(clientMessage.encode({ ping: {}, requestId: 3 }));
    const prompt = await rawConnect({ unix: d.socket });
    prompt.write(bytes.subarray(0, 3));
    await Bun.sleep(200); // the scenario: a pause well inside the 600 ms stall timeout
    prompt.write(bytes.subarray(3));
    expect((await prompt.next())!.requestId).toBe(3);
    prompt.close();
    const stuck = await rawConnect({ unix: d.socket });
    stuck.write(bytes.subarray(0, 3));
    await Promise.race([stuck.closed, Bun.sleep(5000)]);
    expect(stuck.isClosed()).toBe(true);
    await d.waitLog("half-sent");
    expect(await pingWorks(d)).toBe(true);
  });
});
