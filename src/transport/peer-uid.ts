/**
 * Who is on the other end of a loopback TCP connection. The Unix socket is
 * owner-only by file mode; loopback TCP has no such guard, so on a shared
 * machine any local user could reach the agent (and its bash tool). On Linux
 * the kernel lists every TCP socket with its owner's uid in /proc/net/tcp
 * and /proc/net/tcp6: the client's socket is the row whose local end is the
 * peer address we accepted and whose remote end is our listening port.
 *
 * Contract: undefined means "owner unknown" (not Linux, a non-loopback peer,
 * no matching row, or rows that disagree), and callers must refuse it.
 */
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "../util/ip.ts";

/** The hex form /proc/net/tcp uses for an IPv4 address: one 32-bit word in host (little-endian) order. */
function ipv4Hex(ip: string): string {
  return ip
    .split(".")
    .map((n) => Number(n).toString(16).padStart(2, "0").toUpperCase())
    .reverse()
    .join("");
}

/** The 16 bytes of an IPv6 address (including the ::ffff:a.b.c.d form). */
function ipv6Bytes(ip: string): number[] {
  let text = ip;
  const tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split(".").map(Number));
    text = `${text.slice(0, v4.index)}:0:0`;
  }
  const [head = "", rest] = text.split("::");
  const words = (s: string) => (s === "" ? [] : s.split(":").map((w) => Number.parseInt(w, 16)));
  const left = words(head);
  const right = rest === undefined ? [] : words(rest);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * The hex form /proc/net/tcp6 uses for an IPv6 address: four 32-bit words,
 * each printed in host (little-endian) order, so every group of 4 bytes is reversed.
 */
export function ipv6Hex(ip: string): string {
  const bytes = ipv6Bytes(ip);
  let out = "";
  for (let word = 0; word < 4; word++) {
    for (let i = 3; i >= 0; i--) out += bytes[word * 4 + i]!.toString(16).padStart(2, "0").toUpperCase();
  }
  return out;
}

const portHex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");

/**
 * The uid owning the socket `peerHex:peerPort` connected to `localPort`, read from /proc/net/tcp
 * or tcp6 text, with the address already in the table's hex form. Several matching rows with
 * different owners make the owner unknown rather than the first one's.
 */
export function findSocketUidHex(
  table: string,
  peerHex: string,
  peerPort: number,
  localPort: number,
): number | undefined {
  const wantLocal = `${peerHex}:${portHex(peerPort)}`;
  const wantRemotePort = `:${portHex(localPort)}`;
  const owners = new Set<number>();
  for (const line of table.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    if (cols[1] === wantLocal && cols[2]!.endsWith(wantRemotePort)) owners.add(Number(cols[7]));
  }
  return owners.size === 1 ? [...owners][0] : undefined;
}

/** The uid owning the IPv4 socket `peerIp:peerPort` connected to `localPort`, read from /proc/net/tcp text. */
export function findSocketUid(table: string, peerIp: string, peerPort: number, localPort: number): number | undefined {
  return findSocketUidHex(table, ipv4Hex(peerIp), peerPort, localPort);
}

export function isLoopback(ip: string): boolean {
  if (isIPv4(ip)) return ip.startsWith("127.");
  if (!isIPv6(ip)) return false;
  const lower = ip.toLowerCase();
  return lower === "::1" || /^::ffff:127\.\d+\.\d+\.\d+$/.test(lower) || ipv6Hex(lower) === ipv6Hex("::1");
}

export interface ProcTables {
  tcp: string | undefined;
  tcp6: string | undefined;
}

function readTable(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined; // Not readable here: the owner stays unknown.
  }
}

/**
 * The uid of a loopback TCP peer from the two tables. An IPv4 client's socket is
 * in tcp (or, if it is an IPv6 socket talking to a mapped address, in tcp6 as
 * ::ffff:a.b.c.d); an IPv6 client's socket is in tcp6.
 */
export function peerUidFromTables(
  tables: ProcTables,
  peerIp: string,
  peerPort: number,
  localPort: number,
): number | undefined {
  if (!isLoopback(peerIp)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peerIp);
  const v4 = isIPv4(peerIp) ? peerIp : mapped?.[1];
  const candidates: { table: string | undefined; hex: string }[] = v4
    ? [
        { table: tables.tcp, hex: ipv4Hex(v4) },
        { table: tables.tcp6, hex: ipv6Hex(`::ffff:${v4}`) },
      ]
    : [{ table: tables.tcp6, hex: ipv6Hex(peerIp) }];
  const owners = new Set<number>();
  for (const { table, hex } of candidates) {
    if (table === undefined) continue;
    const uid = findSocketUidHex(table, hex, peerPort, localPort);
    if (uid !== undefined) owners.add(uid);
  }
  return owners.size === 1 ? [...owners][0] : undefined;
}

/** The uid of a loopback TCP peer, or undefined when it cannot be known here (which callers refuse). */
export function loopbackPeerUid(peerIp: string, peerPort: number, localPort: number): number | undefined {
  if (process.platform !== "linux") return undefined;
  return peerUidFromTables(
    { tcp: readTable("/proc/net/tcp"), tcp6: readTable("/proc/net/tcp6") },
    peerIp,
    peerPort,
    localPort,
  );
}
