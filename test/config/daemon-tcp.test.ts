/** [daemon] tcp: loopback binds are accepted; anything another host could reach needs tokens (refused at start-up with the fix). */
import { expect, test } from "bun:test";
import { checkTcpExposure, parseDaemonSection, isLoopbackHost } from "../../src/config/daemon.ts";
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

test("a non-loopback tcp parses; start-up refuses it without tokens, naming the fix", () => {
  for (const tcp of ["0.0.0.0:6688", "[::]:6688", "192.0.2.2:6688", "example.com:6688"]) {
    const settings = parseDaemonSection({ tcp }, ctx);
    const refusal = checkTcpExposure(settings.tcp, 0, "/h/tokens.toml");
    expect(refusal?.problem).toContain("not a loopback address");
    expect(refusal?.problem).toContain("/h/tokens.toml holds no tokens");
    expect(refusal?.fix).toContain("crabtalk token create");
    expect(refusal?.fix).toContain('tcp = "127.0.0.1:6688"');
    expect(checkTcpExposure(settings.tcp, 1, "/h/tokens.toml")).toBeNull();
  }
  expect(checkTcpExposure({ host: "127.0.0.1", port: 1 }, 0, "/h/tokens.toml")).toBeNull();
});

test("CRABTALK_TCP overrides [daemon] tcp; tls_cert and tls_key go together", () => {
  const env = { file: "/h/crabtalk.toml", env: { CRABTALK_TCP: "0.0.0.0:7001", HOME: "/home/u" } };
  expect(parseDaemonSection({ tcp: "127.0.0.1:1" }, env).tcp).toEqual({ host: "0.0.0.0", port: 7001 });
  expect(parseDaemonSection(undefined, env).tcp).toEqual({ host: "0.0.0.0", port: 7001 });
  const tls = parseDaemonSection({ tls_cert: "~/c.pem", tls_key: "/k.pem" }, env).tls;
  expect(tls).toEqual({ cert: "/home/u/c.pem", key: "/k.pem" });
  expect(() => parseDaemonSection({ tls_cert: "/c.pem" }, ctx)).toThrow(ConfigError);
});
