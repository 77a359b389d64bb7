/**
 * Shared fixtures for the store tests: both backends behind one factory
 * (so the behavioural suite runs against each), temp directories that
 * clean themselves up, and small message builders.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AssistantMessage, ToolResultMessage, UserMessage } from "../../src/provider/types.ts";
import { JsonlSessionStore, type FsyncPolicy } from "../../src/store/jsonl.ts";
import { MemorySessionStore } from "../../src/store/memory.ts";
import type { NewRecord, SessionStore } from "../../src/store/types.ts";

export interface TempDir extends AsyncDisposable {
  path: string;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "crabtalk-store-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

export interface StoreFixture extends AsyncDisposable {
  store: SessionStore;
  /** A new instance over the same data (a restart); the memory twin has no restart and returns itself. */
  reopen(): Promise<SessionStore>;
}

export interface Backend {
  name: string;
  make(fsync?: FsyncPolicy): Promise<StoreFixture>;
}

export const backends: Backend[] = [
  {
    name: "memory",
    async make() {
      const store = new MemorySessionStore();
      return { store, reopen: async () => store, [Symbol.asyncDispose]: async () => undefined };
    },
  },
  {
    name: "jsonl",
    async make(fsync: FsyncPolicy = "messages") {
      const dir = await tempDir();
      const store = await JsonlSessionStore.open(join(dir.path, "sessions"), { fsync });
      return {
        store,
        reopen: () => JsonlSessionStore.open(join(dir.path, "sessions"), { fsync }),
        [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
      };
    },
  },
];

export const user = (content: string): UserMessage => ({ role: "user", content });

export const assistant = (content: string, extra: Partial<AssistantMessage> = {}): AssistantMessage => ({
  role: "assistant",
  content,
  ...extra,
});

export const toolResult = (toolCallId: string, content: string, isError = false): ToolResultMessage => ({
  role: "tool",
  toolCallId,
  name: "bash",
  content,
  isError,
});

export const msg = (message: UserMessage | AssistantMessage | ToolResultMessage): NewRecord => ({
  kind: "message",
  message,
});

export const ev = (seq: number, type: string, data: Record<string, unknown> = {}): NewRecord => ({
  kind: "event",
  event: { ...data, seq, type },
});

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * A resume checkpoint's first line for `header` (its fields, without a sum),
 * sealed the way checkpoint.ts seals it: `,"sum":"<hex>"}` closes the JSON,
 * <hex> hashing the line's bytes before it and then `body`. For tampering
 * the sum cannot see, so the checks behind it are what refuses the file.
 */
export function sealedLine(header: object, body: Uint8Array = new Uint8Array(0)): string {
  const { sum: _, ...fields } = header as { sum?: string };
  const open = JSON.stringify(fields).slice(0, -1);
  return `${open},"sum":"${Bun.hash(body, Bun.hash(Buffer.from(open))).toString(16)}"}`;
}
