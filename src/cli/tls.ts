/**
 * `crabtalk tls init`: a self-signed certificate and key for the daemon's
 * TCP listener (made with the system's openssl), and the SHA-256
 * fingerprint clients pin with `--tls --fingerprint`.
 */
import { defineCommand } from "citty";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveHome } from "../config/paths.ts";
import { CliFailure } from "./shared.ts";

/** The SHA-256 fingerprint of a PEM certificate file ("AB:CD:..."). */
export function certificateFingerprint(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256;
}

const init = defineCommand({
  meta: { name: "init", description: "Make a self-signed certificate in $CRABTALK_HOME/tls and print its fingerprint" },
  args: {
    dir: {
      type: "string",
      description: "Where cert.pem and key.pem go (default: $CRABTALK_HOME/tls)",
      valueHint: "DIR",
    },
    host: {
      type: "string",
      description: "Names and addresses in the certificate (comma-separated; default localhost,127.0.0.1)",
      valueHint: "NAMES",
    },
    days: { type: "string", description: "Validity in days (default 825)", valueHint: "N" },
    force: { type: "boolean", description: "Replace an existing certificate (clients must pin the new one)" },
  },
  async run({ args }) {
    const openssl = Bun.which("openssl");
    if (!openssl) throw new CliFailure("tls init needs openssl on PATH. Fix: install it (apt-get install openssl)");
    const dir = args.dir || join(resolveHome(), "tls");
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    if (existsSync(cert) && !args.force)
      throw new CliFailure(
        `${cert} exists (fingerprint ${certificateFingerprint(cert)}). Fix: keep it, or pass --force to make a new one`,
      );
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const names = (args.host || "localhost,127.0.0.1")
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean);
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
    const proc = Bun.spawn(
      [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        String(Number(args.days) || 825),
        "-subj",
        "/CN=crabtalk",
        "-addext",
        `subjectAltName=${san}`,
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new CliFailure(`openssl failed (exit ${code}): ${stderr.trim()}`);
    chmodSync(key, 0o600);
    const fingerprint = certificateFingerprint(cert);
    process.stdout.write(`${fingerprint}\n`);
    process.stderr.write(
      `certificate ${cert}, key ${key}. Add to crabtalk.toml:\n  [daemon]\n  tls_cert = "${cert}"\n  tls_key = "${key}"\nClients: crabtalk --tcp HOST:PORT --tls --fingerprint ${fingerprint} --token T status\n`,
    );
  },
});

export const tlsCommand = defineCommand({
  meta: { name: "tls", description: "TLS for the TCP listener: init makes a self-signed certificate" },
  subCommands: { init },
});
