/**
 * What the remote-access end-to-end tests share: a home with tokens made by
 * `crabtalk token create` and a certificate made by `crabtalk tls init`
 * (both through the compiled binary), and a daemon config listening on
 * every interface with TLS, agents crab and owl on the fake provider.
 */
import { join } from "node:path";
import { runCli } from "../helpers/daemon.ts";

export function homeEnv(home: string): Record<string, string> {
  return { HOME: home, CRABTALK_HOME: home };
}

/** `crabtalk token create NAME --scope S [...]` in `home`; returns the token printed once. */
export async function createToken(home: string, name: string, scope: string, more: string[] = []): Promise<string> {
  const r = await runCli(["token", "create", name, "--scope", scope, ...more], homeEnv(home));
  if (r.code !== 0) throw new Error(`token create ${name} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** `crabtalk tls init [--dir DIR]`; returns the fingerprint it prints. */
export async function tlsInit(home: string, dir?: string): Promise<string> {
  const r = await runCli(["tls", "init", ...(dir ? ["--dir", dir] : [])], homeEnv(home));
  if (r.code !== 0) throw new Error(`tls init failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

export function remoteConfig(home: string, fakeUrl: string, options: { tcp?: string; tls?: boolean } = {}): string {
  const tls =
    options.tls === false
      ? ""
      : `tls_cert = "${join(home, "tls", "cert.pem")}"\ntls_key = "${join(home, "tls", "key.pem")}"\n`;
  return `[daemon]
tcp = "${options.tcp ?? "0.0.0.0:0"}"
${tls}
[provider.fake]
kind = "openai"
base_url = "${fakeUrl}/v1"
models = ["fake-model"]

[agents.crab]
model = "fake-model"

[agents.owl]
model = "fake-model"
`;
}

/** Waits until the daemon's stderr holds `text` (stderr arrives in chunks, after the socket's answer). */
export async function waitForLog(stderr: () => string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!stderr().includes(text)) {
    if (Date.now() > deadline) throw new Error(`the daemon did not log "${text}" within ${timeoutMs} ms:\n${stderr()}`);
    await Bun.sleep(10);
  }
}
