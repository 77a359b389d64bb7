/**
 * A local Telegram Bot API for gateway tests: telegram-test-api (the npm
 * emulator: getMe, getUpdates, sendMessage, editMessageText,
 * editMessageReplyMarkup, deleteMessage, answerCallbackQuery, webhooks)
 * running in this process, behind a small front server that is the
 * `api_root` the gateway talks to.
 *
 * What the front ADDS, following https://core.telegram.org/bots/api:
 * - sendChatAction (chat_id, action among the documented ones) -> true; a
 *   missing chat_id or an unknown action is a 400 as Telegram answers it.
 * - getFile (file_id) -> a File {file_id, file_unique_id, file_size,
 *   file_path} for files the test registered with addFile; an unknown id is
 *   400 "Bad Request: invalid file_id".
 * - GET /file/bot<token>/<file_path>: the file's bytes (404 otherwise), the
 *   Bot API's download route.
 * - getUpdates long polling: the emulator answers at once and ignores
 *   `timeout`; the front holds an empty answer until an update arrives or
 *   `timeout` seconds pass, as Telegram does, so a polling gateway does not
 *   spin the CPU in tests; a poll whose client went away (a killed gateway)
 *   takes no updates with it. (The emulator still ignores `offset`: it
 *   marks updates read when it returns them.)
 * - a wrong token is 401 "Unauthorized".
 * And for tests: every Bot API call is recorded (method, body, time,
 * status), and a call can be made to fail once (e.g. 429 with
 * parameters.retry_after) with Telegram's error shape.
 */
import TelegramServer from "telegram-test-api";

export interface BotCall {
  method: string;
  body: Record<string, unknown>;
  /** Date.now() at arrival. */
  at: number;
  /** performance.now() at arrival (for benchmarks). */
  hr: number;
  status: number;
}

export interface ShownMessage {
  id: number;
  chat: number;
  /** As a user would read it: MarkdownV2 escapes removed. */
  text: string;
  parseMode?: string;
  buttons: { text: string; data: string }[];
}

interface Fault {
  method: string;
  match?: (body: Record<string, unknown>) => boolean;
  status: number;
  description: string;
  retryAfter?: number;
  left: number;
}

interface RegisteredFile {
  id: string;
  uniqueId: string;
  path: string;
  bytes: Uint8Array;
  /** false: getFile leaves file_size out (it is optional in the Bot API; self-hosted servers may omit it). */
  declareSize: boolean;
}

const CHAT_ACTIONS = new Set([
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
]);

const BOT = { id: 666, username: "TestNameBot" };

/** The emulator's internals this helper reads (its .d.ts types them with a package we do not install). */
interface Emulator {
  storage: { botMessages: { messageId: number; message: Record<string, unknown> }[] };
  start(): Promise<void>;
  stop(): Promise<boolean>;
  getUpdates(token: string): unknown[];
  addUserMessage(message: Record<string, unknown>): Promise<void>;
  addUserCallback(q: Record<string, unknown>): Promise<void>;
  on(event: string, fn: () => void): void;
  off(event: string, fn: () => void): void;
}

export function unescapeMarkdownV2(text: string): string {
  return text.replace(/\\([_*[\]()~`>#+\-=|{}.!\\])/g, "$1");
}

export class TelegramEmulator implements AsyncDisposable {
  readonly calls: BotCall[] = [];
  readonly bot = BOT;
  private readonly faults: Fault[] = [];
  private readonly files = new Map<string, RegisteredFile>();
  private nextFile = 1;

  private constructor(
    private readonly emulator: Emulator,
    private readonly inner: string,
    private readonly front: ReturnType<typeof Bun.serve>,
    readonly token: string,
  ) {}

  /** The api_root to configure the gateway with. */
  get url(): string {
    return `http://127.0.0.1:${this.front.port}`;
  }

  static async start(token = "123456:TEST-token_abc"): Promise<TelegramEmulator> {
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = probe.port;
    probe.stop(true);
    const emulator = new TelegramServer({ port, host: "127.0.0.1", storeTimeout: 3600 }) as unknown as Emulator;
    await emulator.start();
    let self: TelegramEmulator | undefined;
    const front = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      idleTimeout: 0,
      fetch: (req) => self!.handle(req),
    });
    self = new TelegramEmulator(emulator, `http://127.0.0.1:${port}`, front, token);
    return self;
  }

  /** The next `count` calls of `method` (matching `match`) fail with Telegram's error shape. */
  fail(
    method: string,
    error: { status: number; description: string; retryAfter?: number },
    options: { count?: number; match?: (body: Record<string, unknown>) => boolean } = {},
  ): void {
    this.faults.push({
      method,
      ...error,
      left: options.count ?? 1,
      ...(options.match ? { match: options.match } : {}),
    });
  }

  /** Ends every fault still armed. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Registers a file getFile can describe and the file route can serve. */
  addFile(
    bytes: Uint8Array,
    ext = "jpg",
    declareSize = true,
  ): { fileId: string; uniqueId: string; size: number | undefined } {
    const n = this.nextFile++;
    const path = `photos/file_${n}.${ext}`;
    const f: RegisteredFile = { id: `FILE${n}xyz`, uniqueId: `U${n}`, path, bytes, declareSize };
    this.files.set(f.id, f);
    return { fileId: f.id, uniqueId: f.uniqueId, size: declareSize ? bytes.length : undefined };
  }

  /** A user's message as Telegram delivers it in an update. */
  async send(m: {
    user: number;
    chat?: number;
    text?: string;
    chatType?: "private" | "group" | "supergroup";
    replyTo?: number;
    photo?: { fileId: string; uniqueId: string; size: number | undefined };
    caption?: string;
  }): Promise<void> {
    const chatId = m.chat ?? m.user;
    const chatType = m.chatType ?? "private";
    const message: Record<string, unknown> = {
      botToken: this.token,
      date: Math.floor(Date.now() / 1000),
      from: { id: m.user, is_bot: false, first_name: `User${m.user}`, username: `user${m.user}` },
      chat:
        chatType === "private"
          ? { id: chatId, type: "private", first_name: `User${m.user}` }
          : { id: chatId, type: chatType, title: "Group" },
    };
    if (m.text !== undefined) {
      message.text = m.text;
      const cmd = /^\/\w+(@\w+)?/.exec(m.text);
      if (cmd) message.entities = [{ type: "bot_command", offset: 0, length: cmd[0].length }];
    }
    if (m.caption !== undefined) message.caption = m.caption;
    if (m.photo)
      message.photo = [
        {
          file_id: m.photo.fileId,
          file_unique_id: m.photo.uniqueId,
          width: 1280,
          height: 960,
          ...(m.photo.size === undefined ? {} : { file_size: m.photo.size }),
        },
      ];
    if (m.replyTo !== undefined)
      message.reply_to_message = {
        message_id: m.replyTo,
        date: Math.floor(Date.now() / 1000),
        chat: message.chat,
        from: { id: BOT.id, is_bot: true, first_name: "Bot", username: BOT.username },
        text: "",
      };
    await this.emulator.addUserMessage(message);
  }

  /** A press of an inline button under the bot's message `messageId`. */
  async press(user: number, chat: number, messageId: number, data: string): Promise<void> {
    await this.emulator.addUserCallback({
      botToken: this.token,
      from: { id: user, is_bot: false, first_name: `User${user}` },
      message: {
        message_id: messageId,
        date: Math.floor(Date.now() / 1000),
        chat: { id: chat, type: "private" },
        text: "",
      },
      data,
    });
  }

  /** The bot's messages in a chat, oldest first, as they read now (after every edit). */
  messages(chat: number): ShownMessage[] {
    return this.emulator.storage.botMessages
      .filter((u) => Number(u.message.chat_id) === chat)
      .map((u) => {
        const raw = String(u.message.text ?? "");
        const parseMode = u.message.parse_mode as string | undefined;
        const markup = u.message.reply_markup as
          | { inline_keyboard?: { text: string; callback_data: string }[][] }
          | undefined;
        return {
          id: u.messageId,
          chat,
          text: parseMode === "MarkdownV2" ? unescapeMarkdownV2(raw) : raw,
          ...(parseMode ? { parseMode } : {}),
          buttons: (markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: b.callback_data })),
        };
      });
  }

  callsOf(method: string, chat?: number): BotCall[] {
    return this.calls.filter((c) => c.method === method && (chat === undefined || Number(c.body.chat_id) === chat));
  }

  /** Polls a condition (every 20 ms) until it holds; throws with `what` after the timeout. */
  async waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      if (Date.now() > deadline)
        throw new Error(
          `telegram emulator: timed out waiting for ${what}; calls so far: ${this.calls.map((c) => `${c.method}(${c.status})`).join(", ")}`,
        );
      await Bun.sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.front.stop(true);
    await this.emulator.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (file) {
      const f = [...this.files.values()].find((x) => x.path === file[2]);
      if (file[1] !== this.token || !f) return new Response("Not Found", { status: 404 });
      return new Response(f.bytes, { headers: { "content-type": "application/octet-stream" } });
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
    if (!m) return new Response("Not Found", { status: 404 });
    const [, token, method] = m as unknown as [string, string, string];
    const body = await readBody(req);
    const call: BotCall = { method, body, at: Date.now(), hr: performance.now(), status: 200 };
    this.calls.push(call);
    const answer = (status: number, payload: unknown) => {
      call.status = status;
      return Response.json(payload, { status });
    };
    const error = (status: number, description: string, retryAfter?: number) =>
      answer(status, {
        ok: false,
        error_code: status,
        description,
        ...(retryAfter !== undefined ? { parameters: { retry_after: retryAfter } } : {}),
      });
    if (token !== this.token) return error(401, "Unauthorized");
    const fault = this.faults.find((f) => f.method === method && f.left > 0 && (!f.match || f.match(body)));
    if (fault) {
      fault.left--;
      return error(fault.status, fault.description, fault.retryAfter);
    }
    switch (method) {
      case "sendChatAction":
        if (body.chat_id === undefined) return error(400, "Bad Request: chat_id is empty");
        if (!CHAT_ACTIONS.has(String(body.action))) return error(400, "Bad Request: wrong parameter action in request");
        return answer(200, { ok: true, result: true });
      case "getFile": {
        const f = this.files.get(String(body.file_id ?? ""));
        if (!f) return error(400, "Bad Request: invalid file_id");
        return answer(200, {
          ok: true,
          result: {
            file_id: f.id,
            file_unique_id: f.uniqueId,
            ...(f.declareSize ? { file_size: f.bytes.length } : {}),
            file_path: f.path,
          },
        });
      }
      case "getUpdates":
        return answer(200, { ok: true, result: await this.longPoll(Number(body.timeout ?? 0), req.signal) });
      default: {
        const res = await fetch(`${this.inner}/bot${token}/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return answer(res.status, await res.json());
      }
    }
  }

  /** Updates now, or as soon as one arrives within `timeout` seconds (Telegram's long polling). */
  private async longPoll(timeout: number, signal: AbortSignal): Promise<unknown[]> {
    const now = this.emulator.getUpdates(this.token);
    if (now.length > 0 || timeout <= 0) return now;
    await new Promise<void>((resolve) => {
      const events = ["AddedUserMessage", "AddedUserCommand", "AddedUserCallbackQuery"];
      const done = () => {
        clearTimeout(timer);
        for (const e of events) this.emulator.off(e, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeout * 1000);
      for (const e of events) this.emulator.on(e, done);
      signal.addEventListener("abort", done);
    });
    // A poller that went away (a killed gateway) must not mark updates read that nobody will receive.
    return signal.aborted ? [] : this.emulator.getUpdates(this.token);
  }
}

async function readBody(req: Request): Promise<Record<string, unknown>> {
  if (req.method === "GET") return Object.fromEntries(new URL(req.url).searchParams);
  const type = req.headers.get("content-type") ?? "";
  if (type.includes("application/json")) {
    const text = await req.text();
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }
  if (type.includes("form")) {
    const form = await req.formData();
    const out: Record<string, unknown> = {};
    form.forEach((v, k) => {
      out[k] = typeof v === "string" ? v : "(file)";
    });
    return out;
  }
  return {};
}

/** The [services.telegram] section that makes the daemon run the compiled gateway against this emulator. */
export function gatewaySection(
  binary: string,
  emu: TelegramEmulator,
  options: { allowed: number[]; notify?: Record<string, number>; extra?: string },
): string {
  const notify = options.notify
    ? `notify = { ${Object.entries(options.notify)
        .map(([k, v]) => `"${k}" = ${v}`)
        .join(", ")} }\n`
    : "";
  return `
[services.telegram]
kind = "gateway"
command = "${binary}"
args = ["telegram"]
restart = "on_failure"
[services.telegram.config]
token = "${emu.token}"
allowed_users = [${options.allowed.join(", ")}]
agent = "crab"
api_root = "${emu.url}"
poll_timeout_s = 20
${notify}${options.extra ?? ""}
`;
}

/** A scripted model reply whose SSE events arrive `delayMs` apart (a streamed answer the gateway must edit along). */
export function pacedSse(
  sse: string,
  delayMs: number,
): {
  kind: "generate";
  chunks: () => AsyncIterable<string>;
} {
  const events = sse.split(/(?<=\n\n)/);
  return {
    kind: "generate",
    chunks: async function* () {
      for (const [i, ev] of events.entries()) {
        if (i > 0) await Bun.sleep(delayMs);
        yield ev;
      }
    },
  };
}
