/**
 * A scripted editor for the `crabtalk acp` tests: the ACP SDK's own client
 * side driving the compiled binary over its stdin/stdout, recording every
 * `session/update` and answering `session/request_permission` as the test
 * says. Waiting is on conditions (an update arriving), never on time.
 */
import {
  type ClientConnection,
  client,
  methods,
  ndJsonStream,
  type RequestPermissionRequest,
  type RequestPermissionResponse,
  type SessionNotification,
  type SessionUpdate,
} from "@agentclientprotocol/sdk";
import type { Subprocess } from "bun";
import { binaryPath } from "../helpers/daemon.ts";

export type PermissionAnswer = (req: RequestPermissionRequest) => RequestPermissionResponse;

export interface Editor extends AsyncDisposable {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  conn: ClientConnection;
  /** Every session/update so far, in arrival order. */
  updates: SessionNotification[];
  permissionRequests: RequestPermissionRequest[];
  /** How the next permission requests are answered (default: allow once). */
  answer: PermissionAnswer;
  stderr(): string;
  updatesOf(sessionId: string): SessionUpdate[];
  waitForUpdate(what: string, pred: (n: SessionNotification) => boolean): Promise<SessionNotification>;
  /** Closes stdin and resolves with the bridge's exit code. */
  close(): Promise<number>;
}

export const allowOnce: PermissionAnswer = (req) => ({
  outcome: { outcome: "selected", optionId: req.options.find((o) => o.kind === "allow_once")!.optionId },
});
export const rejectOnce: PermissionAnswer = (req) => ({
  outcome: { outcome: "selected", optionId: req.options.find((o) => o.kind === "reject_once")!.optionId },
});

/** Starts `crabtalk acp` against the daemon at `socket` and connects the SDK client to it. */
export function startEditor(home: string, socket: string, args: string[] = []): Editor {
  const proc = Bun.spawn([binaryPath(), "acp", "--socket", socket, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CRABTALK_HOME: home },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  let stderrText = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stderr) stderrText += decoder.decode(chunk);
  })();
  const toBridge = new WritableStream<Uint8Array>({
    write(chunk) {
      proc.stdin.write(chunk);
      proc.stdin.flush();
    },
    close() {
      proc.stdin.end();
    },
  });
  // Resolved from the notification handler itself, so a wait ends the moment its update arrives (no polling).
  const waiters = new Set<(n: SessionNotification) => void>();
  const editor: Editor = {
    proc,
    conn: undefined as unknown as ClientConnection,
    updates: [],
    permissionRequests: [],
    answer: allowOnce,
    stderr: () => stderrText,
    updatesOf: (id) => editor.updates.filter((n) => n.sessionId === id).map((n) => n.update),
    waitForUpdate: (what, pred) => {
      const hit = editor.updates.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after 15000 ms waiting for ${what}`));
        }, 15_000);
        const waiter = (n: SessionNotification) => {
          if (!pred(n)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(n);
        };
        waiters.add(waiter);
      });
    },
    close: async () => {
      editor.conn.close();
      proc.stdin.end();
      return proc.exited;
    },
    [Symbol.asyncDispose]: async () => {
      editor.conn.close();
      proc.kill();
      await proc.exited;
    },
  };
  const app = client({ name: "test-editor" })
    .onNotification(methods.client.session.update, ({ params }) => {
      editor.updates.push(params);
      for (const waiter of [...waiters]) waiter(params);
    })
    .onRequest(methods.client.session.requestPermission, ({ params }) => {
      editor.permissionRequests.push(params);
      return editor.answer(params);
    });
  editor.conn = app.connect(ndJsonStream(toBridge, proc.stdout));
  return editor;
}

/** initialize, as an editor with no file-system or terminal capabilities. */
export function initialize(editor: Editor) {
  return editor.conn.agent.request(methods.agent.initialize, {
    protocolVersion: 1,
    clientCapabilities: {},
    clientInfo: { name: "test-editor", version: "0" },
  });
}

/** The text of the agent_message_chunk updates of one session, joined. */
export function answerText(updates: SessionUpdate[]): string {
  return updates
    .map((u) => (u.sessionUpdate === "agent_message_chunk" && u.content.type === "text" ? u.content.text : ""))
    .join("");
}
