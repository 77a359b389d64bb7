/**
 * Shared pieces of the extension end-to-end tests (test/e2e/ext-*.test.ts):
 * [services.*] sections running the fixture extensions of
 * test/fixtures/extensions with this bun, waiting on a service's state over
 * GetServicesMsg, and reading what a fixture recorded.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CrabtalkClient } from "../../src/client/client.ts";
import type { ServiceInfoMsg } from "../../src/protocol/gen/crabtalk.ts";

export const FIXTURES = join(import.meta.dir, "..", "fixtures", "extensions");

/** A [services.<name>] section running fixture `file` (e.g. "probe.ts") with `args`; `extra` lines are appended. */
export function serviceSection(name: string, file: string, args: string[], extra = ""): string {
  const all = [join(FIXTURES, file), ...args].map((a) => JSON.stringify(a)).join(", ");
  return `
[services.${name}]
command = ${JSON.stringify(process.execPath)}
args = [${all}]
${extra}
`;
}

export async function services(client: CrabtalkClient): Promise<ServiceInfoMsg[]> {
  const reply = await client.request({ getServices: {} });
  return reply.serviceList?.services ?? [];
}

export async function service(client: CrabtalkClient, name: string): Promise<ServiceInfoMsg> {
  const found = (await services(client)).find((s) => s.name === name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
}

/** Waits until `name` is in `state` (and `also` holds); returns its status. */
export async function waitState(
  client: CrabtalkClient,
  name: string,
  state: string,
  timeoutMs = 15_000,
  also: (s: ServiceInfoMsg) => boolean = () => true,
): Promise<ServiceInfoMsg> {
  const deadline = Date.now() + timeoutMs;
  let last: ServiceInfoMsg | undefined;
  for (;;) {
    last = await service(client, name);
    if (last.status === state && also(last)) break;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for service ${name} to be ${state}; last: ${JSON.stringify(last)}`,
      );
    await Bun.sleep(20);
  }
  return last!;
}

export interface Observation {
  kind: string;
  [key: string]: unknown;
}

/** What a probe fixture recorded so far. */
export function observed(file: string): Observation[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Observation);
}
