/**
 * Many sessions on disk, written in the JSONL store's layout before a daemon
 * starts: used by the listing test (test/e2e/sessions-scale.test.ts) and the
 * idle-memory benchmark (bench/idle-sessions-rss.ts). Activity order is a
 * deterministic shuffle, so it differs from id order; every fourth session
 * belongs to agent `other`, the rest to `crab`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A daemon config with agents `crab` and `other` on an unreachable provider: listing needs no model. */
export const SCALE_CONFIG = `[daemon]\ntcp = false\n[provider.fake]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["fake-model"]\n[agents.crab]\nmodel = "fake-model"\n[agents.other]\nmodel = "fake-model"\n`;

export interface ScaleShape {
  sessions: number;
  messagesPerSession: number;
  /** Characters of every message but the first. */
  messageChars: number;
  /** Characters of the first user message, where titles come from. */
  firstMessageChars: number;
}

/** What listing must show for one session. */
export interface ExpectedSession {
  id: number;
  agent: string;
  lastActive: number;
  /** The start of its title; the title is cut from the first message. */
  title: string;
  tokens: number;
}

/** A deterministic shuffle, so activity order differs from id order. */
function permutation(n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Writes session files exactly as the JSONL store lays them out (a meta
 * line, then message records) under `home`/sessions. Returns what listing
 * must show, newest activity first (ties: higher id first).
 */
export function writeSessions(home: string, shape: ScaleShape): ExpectedSession[] {
  const dir = join(home, "sessions");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = Date.now() - 30 * 86_400_000;
  const order = permutation(shape.sessions);
  const filler = "lorem ipsum dolor sit amet ".repeat(Math.ceil(shape.messageChars / 27)).slice(0, shape.messageChars);
  const first = "consectetur adipiscing elit "
    .repeat(Math.ceil(shape.firstMessageChars / 28))
    .slice(0, shape.firstMessageChars);
  const expected: ExpectedSession[] = [];
  for (let i = 0; i < shape.sessions; i++) {
    const id = i + 1;
    const agent = id % 4 === 0 ? "other" : "crab";
    const t0 = base + order[i]! * 60_000;
    const lines = [JSON.stringify({ ts: t0, kind: "meta", v: 1, id, agent, createdBy: "cli", createdAt: t0 })];
    let ts = t0;
    let tokens = 0;
    for (let m = 0; m < shape.messagesPerSession; m++) {
      ts += 1000;
      if (m % 2 === 0) {
        const content = m === 0 ? `question ${id} about scaling: ${first}` : filler;
        lines.push(JSON.stringify({ ts, kind: "message", message: { role: "user", content, timestamp: ts } }));
        continue;
      }
      const usage = {
        promptTokens: 100 + id,
        completionTokens: 10,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
      };
      tokens += usage.promptTokens + usage.completionTokens;
      const message = {
        role: "assistant",
        content: filler,
        model: "fake-model",
        stopReason: "stop",
        usage,
        timestamp: ts,
      };
      lines.push(JSON.stringify({ ts, kind: "message", message }));
    }
    writeFileSync(join(dir, `${id}.jsonl`), `${lines.join("\n")}\n`, { mode: 0o600 });
    expected.push({ id, agent, lastActive: ts, title: `question ${id} about scaling: consectetur`, tokens });
  }
  return expected.sort((a, b) => b.lastActive - a.lastActive || b.id - a.id);
}
