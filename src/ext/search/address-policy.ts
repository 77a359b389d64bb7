/**
 * Where web_fetch may connect. The model chooses the URL, so without this
 * rule a prompt injection could make the daemon's host read its own
 * loopback services, the cloud metadata endpoint (169.254.169.254) or the
 * LAN. The rule holds for the address actually dialled:
 * - the host name is resolved here (the `resolve` table first, then DNS),
 *   every address it resolves to must be public, and the connection is then
 *   made to that checked address (pinned; TLS still verifies the name), so
 *   a name that resolves differently a moment later cannot slip through;
 * - the caller repeats this on every redirect hop.
 * `allow_private = true` lifts the rule; `allow_hosts` lifts it per name.
 */
import { lookup } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";
import { ToolFailure } from "../sdk/index.ts";
import type { SearchConfig } from "./config.ts";

export interface Target {
  /** The address to dial. */
  address: string;
  family: 4 | 6;
}

type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/** Resolves `url`'s host and checks it; throws a ToolFailure naming the address when it is refused. */
export async function checkedTarget(
  url: URL,
  config: Pick<SearchConfig, "allowPrivate" | "allowHosts" | "resolve">,
  resolver: Resolver = systemResolver,
): Promise<Target> {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  let addresses: { address: string; family: number }[];
  if (isIPv4(host) || isIPv6(host)) addresses = [{ address: host, family: isIPv6(host) ? 6 : 4 }];
  else if (Object.hasOwn(config.resolve, host)) {
    const ip = config.resolve[host]!;
    addresses = [{ address: ip, family: isIPv6(ip) ? 6 : 4 }];
  } else {
    try {
      addresses = await resolver(host);
    } catch (err) {
      throw new ToolFailure(`cannot resolve ${host}: ${(err as Error).message}`);
    }
    if (addresses.length === 0) throw new ToolFailure(`cannot resolve ${host}: no addresses`);
  }
  const exempt = config.allowPrivate || config.allowHosts.includes(host);
  if (!exempt) {
    const blocked = addresses.find((a) => privateRange(a.address) !== null);
    if (blocked)
      throw new ToolFailure(
        `refused ${url.href}: ${host} resolves to ${blocked.address}, a ${privateRange(blocked.address)} address; ` +
          "web_fetch reaches public addresses only (the operator can set allow_private or allow_hosts in [services.search] config)",
      );
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The kind of non-public range `ip` is in, or null for a public address. */
export function privateRange(ip: string): string | null {
  if (isIPv4(ip)) return v4Range(ip.split(".").map(Number) as [number, number, number, number]);
  if (!isIPv6(ip)) return "malformed";
  const words = v6Words(ip);
  const [w0, w1, w2, w3, w4, w5, w6, w7] = words;
  if (words.every((w) => w === 0)) return "unspecified";
  if (words.slice(0, 7).every((w) => w === 0) && w7 === 1) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
  const embedded = [w6! >> 8, w6! & 0xff, w7! >> 8, w7! & 0xff] as [number, number, number, number];
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0 && (w5 === 0xffff || w5 === 0)) return v4Range(embedded);
  if (w0 === 0x64 && w1 === 0xff9b) return v4Range(embedded);
  if ((w0! & 0xfe00) === 0xfc00) return "unique local";
  if ((w0! & 0xffc0) === 0xfe80) return "link-local";
  if ((w0! & 0xffc0) === 0xfec0) return "site-local";
  if ((w0! & 0xff00) === 0xff00) return "multicast";
  if (w0 === 0x2001 && w1 === 0x0db8) return "documentation";
  return null;
}

function v4Range([a, b, c]: [number, number, number, number]): string | null {
  if (a === 0) return "unspecified";
  if (a === 10) return "private";
  if (a === 127) return "loopback";
  if (a === 169 && b === 254) return "link-local";
  if (a === 172 && b >= 16 && b <= 31) return "private";
  if (a === 192 && b === 168) return "private";
  if (a === 100 && b >= 64 && b <= 127) return "carrier-grade NAT";
  if (a === 192 && b === 0 && c === 0) return "IETF protocol";
  if (a === 198 && (b === 18 || b === 19)) return "benchmarking";
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved";
  return null;
}

/** The eight 16-bit words of an IPv6 address (with :: expanded and a trailing dotted IPv4 folded in). */
function v6Words(ip: string): number[] {
  let text = ip.toLowerCase().split("%")[0]!;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill("0");
  return [...left, ...fill, ...right].map((w) => Number.parseInt(w || "0", 16));
}
