/**
 * IP literal checks without loading node:net at start-up: importing node:net
 * pulls in its stream machinery, a few milliseconds before the daemon can
 * accept (issue 20, bench/startup.ts), for a loopback check on 127.0.0.1.
 * IPv4 uses Node's own pattern (node's lib/internal/net.js), so answers are
 * identical (test/util/ip.test.ts compares them); IPv6 asks node:net itself,
 * loaded on the first IPv6 question.
 */
const V4_SEG = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const IPV4 = new RegExp(`^(?:${V4_SEG}\\.){3}${V4_SEG}$`);

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

let net: typeof import("node:net") | null = null;

export function isIPv6(s: string): boolean {
  net ??= require("node:net") as typeof import("node:net");
  return net.isIPv6(s);
}
