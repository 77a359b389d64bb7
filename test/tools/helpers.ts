/** Shared helpers for tool tests: a disposable temp dir, a tool context, process liveness. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import type { ToolContext } from "../../src/agent/types.ts";

export async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "crabtalk-tools-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

export function ctx(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { agent: "crab", session: 1, callId: "call-1", signal };
}

/**
 * True when no running process has this pid. A zombie counts as gone: it has
 * exited and only waits to be reaped by its parent, which for an orphaned
 * grandchild is PID 1 (in some containers PID 1 never reaps).
 */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

export async function waitGone(pid: number, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (isGone(pid)) return true;
    await Bun.sleep(20);
  }
  return isGone(pid);
}

export async function waitForFile(path: string, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const f = Bun.file(path);
    if (await f.exists()) {
      const text = (await f.text()).trim();
      if (text) return text;
    }
    await Bun.sleep(10);
  }
  throw new Error(`${path} did not appear`);
}
