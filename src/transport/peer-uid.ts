/**
 * Who is on the other end of a loopback TCP connection. The Unix socket is
 * owner-only by file mode; loopback TCP has no such guard, so on a shared
 * machine any local user could reach the agent (and its bash tool). On Linux
 * the kernel lists every TCP socket with its owner's uid in /proc/net/tcp
 * and /proc/net/tcp6: the client's socket is the row whose local end is the
 * peer address we accepted and whose remote end is our listening port.
 * Elsewhere, or for a non-loopback peer, the owner is unknown (undefined).
 */
import { readFileSync } from "node:fs";

/** The hex form /proc/net/tcp uses for an IPv4 address (little-endian on x86 and arm). */
function ipv4Hex(ip: string): string {
  return ip
    .split(".")
    .map((n) => Number(n).toString(16).padStart(2, "0").toUpperCase())
    .reverse()
    .join("");
}

const portHex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");

/** The uid owning the socket `peerIp:peerPort` connected to `localPort`, read from /proc/net/tcp text. */
export function findSocketUid(table: string, peerIp: string, peerPort: number, localPort: number): number | undefined {
  const wantLocal = `${ipv4Hex(peerIp)}:${portHex(peerPort)}`;
  const wantRemotePort = `:${portHex(localPort)}`;
  for (const line of table.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    if (cols[1] === wantLocal && cols[2]!.endsWith(wantRemotePort)) return Number(cols[7]);
  }
  return undefined;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1" || ip.startsWith("::ffff:127.");
}

/** The uid of a loopback TCP peer, or undefined when it cannot be known here. */
export function loopbackPeerUid(peerIp: string, peerPort: number, localPort: number): number | undefined {
  if (process.platform !== "linux" || !isLoopback(peerIp)) return undefined;
  const v4 = peerIp.replace(/^::ffff:/, "");
  if (!v4.startsWith("127.")) return undefined; // ::1 peers: tcp6 rows use a 32-hex-digit form; not matched, owner unknown
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      const uid = findSocketUid(readFileSync(file, "utf8"), v4, peerPort, localPort);
      if (uid !== undefined) return uid;
    } catch {
      // Not readable here: the owner stays unknown.
    }
  }
  return undefined;
}
