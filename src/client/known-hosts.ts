/**
 * Certificate pinning for TLS clients, like ssh's known_hosts: with
 * `fingerprint` given, only that certificate is accepted; without it, the
 * fingerprint saved for HOST:PORT in the known-hosts file must match, and an
 * address seen for the first time is trusted and saved (trust on first use).
 * A changed certificate is refused loudly, naming the file line to remove.
 *
 * File format: one "HOST:PORT SHA256-HEX" per line; # comments.
 * node:fs is fetched when the file is read, not at import (see endpoint.ts).
 */
import type { TlsPin } from "../transport/socket.ts";

/** "AB:CD:..." or "abcd..." (optionally "SHA256:" in front) to lowercase hex without colons. */
export function normalizeFingerprint(text: string): string {
  return text
    .trim()
    .replace(/^sha256:/i, "")
    .replace(/:/g, "")
    .toLowerCase();
}

function knownLine(file: string, address: string): { line: number; fingerprint: string } | null {
  let text: string;
  try {
    text = process.getBuiltinModule("node:fs").readFileSync(file, "utf8");
  } catch {
    return null;
  }
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const [host, fp] = lines[i]!.trim().split(/\s+/);
    if (host === address && fp) return { line: i + 1, fingerprint: normalizeFingerprint(fp) };
  }
  return null;
}

export function tlsPin(address: string, options: { fingerprint?: string; knownHostsFile: string }): TlsPin {
  return {
    verify(fingerprint256) {
      const seen = normalizeFingerprint(fingerprint256);
      if (options.fingerprint) {
        const pinned = normalizeFingerprint(options.fingerprint);
        return seen === pinned
          ? null
          : `the certificate of ${address} has fingerprint SHA256:${seen}, not the pinned SHA256:${pinned}; refusing to connect (someone may be intercepting, or the server's certificate changed: check with its owner, \`crabtalk tls init\` prints it)`;
      }
      const known = knownLine(options.knownHostsFile, address);
      if (known === null) {
        process
          .getBuiltinModule("node:fs")
          .appendFileSync(options.knownHostsFile, `${address} ${seen}\n`, { mode: 0o600 });
        return null;
      }
      if (known.fingerprint === seen) return null;
      return `WARNING: THE CERTIFICATE OF ${address} HAS CHANGED. It is now SHA256:${seen}; ${options.knownHostsFile} line ${known.line} says SHA256:${known.fingerprint}. Someone may be intercepting this connection. Refusing to connect. If the server's certificate was replaced on purpose, remove line ${known.line} of ${options.knownHostsFile} (or pass --fingerprint with the new one).`;
    },
  };
}
