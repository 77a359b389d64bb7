/** [daemon] tcp: loopback binds are accepted, anything another host could reach is refused with the fix. */
import { expect, test } from "bun:test";
import { parseDaemonSection, isLoopbackHost } from "../../src/config/daemon.ts";
import { ConfigError } from "../../src/config/errors.ts";

const ctx = { file: "/h/crabtalk.toml", env: {} };

test("loopback hosts", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"])
    expect(isLoopbackHost(host)).toBe(true);
  for (const host of ["0.0.0.0", "::", "192.0.2.2", "fd00::2", "::ffff:10.0.0.1", "example.com", "128.0.0.1"])
    expect(isLoopbackHost(host)).toBe(false);
});

test("a loopback tcp is kept, IPv6 included", () => {
  expect(parseDaemonSection({ tcp: "[::1]:7000" }, ctx).tcp).toEqual({ host: "::1", port: 7000 });
  expect(parseDaemonSection({ tcp: "127.0.0.1:0" }, ctx).tcp).toEqual({ host: "127.0.0.1", port: 0 });
});

test("a non-loopback tcp is refused, naming the key and the fix", () => {
  for (const tcp of ["0.0.0.0:6688", "[::]:6688", "192.0.2.2:6688", "example.com:6688"]) {
    let caught: unknown;
    try {
      parseDaemonSection({ tcp }, ctx);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.key).toBe("daemon.tcp");
    expect(err.problem).toContain("not a loopback address");
    expect(err.fix).toContain('tcp = "127.0.0.1:6688"');
  }
});
