/**
 * util/ip.ts answers exactly as node:net does: the daemon uses it instead of
 * importing node:net at start-up, so any difference would change which hosts
 * count as loopback.
 */
import { expect, test } from "bun:test";
import * as net from "node:net";
import { isIPv4, isIPv6 } from "../../src/util/ip.ts";

const CASES = [
  "127.0.0.1",
  "127.255.255.255",
  "0.0.0.0",
  "255.255.255.255",
  "256.0.0.1",
  "1.2.3",
  "1.2.3.4.5",
  "01.2.3.4",
  "1.2.3.04",
  "00.0.0.0",
  "1.2.3.4 ",
  " 1.2.3.4",
  "1.2.3.-1",
  "127.0.0.1:80",
  "localhost",
  "",
  "::1",
  "::",
  "::ffff:127.0.0.1",
  "0:0:0:0:0:0:0:1",
  "fe80::1%eth0",
  "[::1]",
  "2001:db8::g",
  "1::2::3",
  "２.２.２.２",
];

test("isIPv4 and isIPv6 agree with node:net on valid, malformed and tricky literals", () => {
  for (const s of CASES) {
    expect([s, isIPv4(s)]).toEqual([s, net.isIPv4(s)]);
    expect([s, isIPv6(s)]).toEqual([s, net.isIPv6(s)]);
  }
  expect(isIPv4("127.0.0.1")).toBe(true);
  expect(isIPv4("01.2.3.4")).toBe(net.isIPv4("01.2.3.4"));
});
