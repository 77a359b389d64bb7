/**
 * The Telegram gateway process: an ordinary client of the daemon (the
 * client SDK only) that long-polls the Bot API through grammy's Api and
 * turns chat messages into turns. The poll loop never waits on a turn: each
 * update is dispatched to its chat's queue (queue.ts), so chats are
 * independent. It exits 1 when the daemon connection closes (the daemon's
 * supervisor restarts it) and 0 on SIGTERM/SIGINT, after stopping polling
 * and giving replies in flight a short grace for their last edit; their
 * turns go on in the daemon and the next run finishes them (resume.ts).
 */
import { join } from "node:path";
import { Api, GrammyError } from "grammy/web";
import type { Message, Update } from "grammy/types";
import { CrabtalkClient } from "../../client/client.ts";
import type { EndpointOptions } from "../../client/endpoint.ts";
import { decideAccess, type BotIdentity } from "./access.ts";
import { readAgents } from "./agents.ts";
import { Approvals } from "./approvals.ts";
import { parseCommand, runCommand } from "./commands.ts";
import type { TelegramConfig } from "./config.ts";
import { attachmentOf, saveAttachment, TooLarge } from "./inbox.ts";
import { NotifyDelivery } from "./notify.ts";
import { ChatQueues, MAX_QUEUED_PER_CHAT } from "./queue.ts";
import { ChatSessions } from "./state.ts";
import { describeTelegramError } from "./telegram-errors.ts";
import type { ReplyRenderer } from "./renderer.ts";
import { resumeTurn } from "./resume.ts";
import { runTurn, type Starting, type TurnDeps } from "./turn.ts";

export interface ServeOptions {
  endpoint: EndpointOptions;
  config: TelegramConfig;
  home: string;
}

const POLL_BACKOFF_MAX_MS = 30_000;
/** On SIGTERM, how long replies in flight may take for their last edit. */
const EXIT_GRACE_MS = 3000;

/** When the daemon started (ms since the epoch), from its status. */
async function daemonStartedAt(daemon: CrabtalkClient): Promise<number> {
  const status = (await daemon.request({ status: {} })).status;
  return Date.now() - Number(status?.uptimeMs ?? 0);
}

export async function serveTelegram(opts: ServeOptions): Promise<number> {
  const { config, home } = opts;
  // The token is in every Bot API URL: no line of ours carries it.
  const log = (line: string) => process.stderr.write(`telegram: ${line.replaceAll(config.token, "<token>")}\n`);
  const api = new Api(config.token, { apiRoot: config.apiRoot });
  let me: BotIdentity;
  try {
    const got = await api.getMe();
    me = { id: got.id, username: got.username };
  } catch (err) {
    if (err instanceof GrammyError && err.error_code === 401) {
      log("Telegram refused the bot token (401); check token in [services.telegram.config] (from @BotFather)");
      return 2;
    }
    log(`cannot reach the Bot API at ${config.apiRoot}: ${describeTelegramError(err)}`);
    return 1;
  }
  const daemon = await CrabtalkClient.connect(opts.endpoint);
  const clientName = `telegram-${me.id}`;
  const dir = join(home, "gateways", "telegram");
  const sessions = new ChatSessions(join(dir, `chats-${me.id}.json`), config.agent);
  const running = new Map<number, number>();
  const starting = new Map<number, Starting>();
  const renders = new Set<ReplyRenderer>();
  const stop = new AbortController();
  const approvals = new Approvals(api, daemon, log);
  const queues = new ChatQueues((chat, err) => log(`chat ${chat}: ${(err as Error).message}`));
  const turnDeps: TurnDeps = {
    api,
    daemon,
    clientName,
    sessions,
    approvals,
    editIntervalMs: config.editIntervalMs,
    log,
    running,
    starting,
    renders,
    stopping: stop.signal,
  };
  const notify = new NotifyDelivery(api, config.notify, join(dir, `notify-${me.id}.json`), log);
  notify.start();
  // One SubscribeEvents stream under the gateway's client name: it makes the gateway the interactive
  // `client:<name>` approver of turns it follows without being their requester (each turn's own stream,
  // named so too, already counts for the turns it started; the prompts arrive on that stream),
  // and it carries the bus events that notify delivers: first those after notify's cursor, replayed from
  // the daemon's journal (published while this gateway was down or starting), then live ones.
  // It carries every session's events: a daemon that drops it for falling behind (408) gets it again at once,
  // after the cursor, so nothing falls between the two streams.
  // First start (no cursor): events since the daemon started are delivered, older ones passed over.
  const since = config.notify.size > 0 && notify.cursor === undefined ? await daemonStartedAt(daemon) : 0;
  void (async () => {
    while (!daemon.isClosed) {
      try {
        const afterBusSeq = config.notify.size > 0 ? { afterBusSeq: notify.cursor ?? 0 } : {};
        for await (const r of daemon.stream({ subscribeEvents: { client: clientName, ...afterBusSeq } })) {
          const p = r.event?.payload;
          const bus = p?.busEvent;
          if (bus && config.notify.size > 0)
            notify.offer({ ...bus, seq: Number(bus.seq), at: Number(r.event!.timestampMs) }, since);
          else if (p?.notice && p.notice.source === "bus") log(`notify: ${p.notice.message}`);
        }
      } catch (err) {
        if (daemon.isClosed) return;
        log(`the daemon's event stream ended (${(err as Error).message}); subscribing again`);
      }
      await Bun.sleep(200);
    }
  })();
  // Barrier: the daemon registers a subscription before it reads the next frame, so after this Pong the
  // gateway is a named approver before any turn of ours starts.
  await daemon.request({ ping: {} });
  // Replies a previous run left mid-turn are finished first; the chat's new messages queue behind them.
  for (const { chat, turn } of sessions.allInflight()) queues.push(chat, () => resumeTurn(turnDeps, chat, turn));

  const reply = (chat: number, text: string) =>
    api
      .sendMessage(chat, text)
      .catch((err: unknown) => log(`chat ${chat}: reply failed: ${describeTelegramError(err)}`));

  const onMessage = async (msg: Message): Promise<void> => {
    const access = decideAccess(msg, me, config.allowedUsers);
    if (!access.serve) {
      if (access.log) log(access.why);
      return;
    }
    const chat = msg.chat.id;
    const command = parseCommand(access.text);
    if (command) {
      const answer = await runCommand(
        { daemon, sessions, queues, running, starting, home },
        chat,
        command.name,
        command.arg,
      ).catch((err: unknown) => `⚠ ${(err as Error).message}`);
      if (answer !== null) {
        await reply(chat, answer);
        return;
      }
    }
    const attachment = attachmentOf(msg);
    if (!access.text.trim() && !attachment) return;
    const ahead = queues.push(chat, async () => {
      const pending: Starting = { stop: false };
      starting.set(chat, pending);
      try {
        await prepareAndRun(chat, msg, access.text, attachment, pending);
      } finally {
        starting.delete(chat);
      }
    });
    if (ahead === null) await reply(chat, `⚠ ${MAX_QUEUED_PER_CHAT} messages are already waiting; wait, or /stop`);
    else if (ahead > 0) await reply(chat, `Queued: ${ahead} ahead of it; it runs when the current answer ends.`);
  };

  /** One queued message: its attachment saved into the agent's inbox/, then its turn. */
  const prepareAndRun = async (
    chat: number,
    msg: Message,
    text: string,
    attachment: ReturnType<typeof attachmentOf>,
    pending: Starting,
  ): Promise<void> => {
    let content = text;
    if (attachment) {
      try {
        const agentDir = (await readAgents(daemon, home)).cwdOf(sessions.agentOf(chat));
        const path = await saveAttachment(api, config, attachment, join(agentDir, "inbox"), config.maxFileBytes);
        content = `${content}${content ? "\n\n" : ""}[attached file: ${path}]`;
      } catch (err) {
        const why =
          err instanceof TooLarge ? err.message : `the attachment could not be saved: ${(err as Error).message}`;
        await reply(chat, `⚠ ${why}`);
        if (err instanceof TooLarge || !content.trim()) return;
      }
    }
    await runTurn(turnDeps, chat, msg.from!.id, content, pending);
  };

  const onUpdate = async (u: Update): Promise<void> => {
    if (u.message) return onMessage(u.message);
    const q = u.callback_query;
    if (!q) return;
    if (!config.allowedUsers.has(q.from.id)) {
      log(`refused a button press by user ${q.from.id}: not in allowed_users`);
      await api.answerCallbackQuery(q.id).catch(() => {});
      return;
    }
    await approvals.press(q);
  };

  let exitCode = 0;
  void daemon.closedPromise.then(() => {
    if (stop.signal.aborted) return;
    log("the daemon closed the connection; exiting so the supervisor starts a fresh gateway");
    exitCode = 1;
    stop.abort();
  });
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => stop.abort());

  log(
    `serving @${me.username} as client ${clientName}; default agent ${config.agent}; ${config.allowedUsers.size} allowed user(s)${config.allowedUsers.size === 0 ? " (allowed_users is empty: nobody is served)" : ""}`,
  );
  let offset = 0;
  let backoff = 1000;
  while (!stop.signal.aborted) {
    try {
      const updates = await api.getUpdates(
        { offset, timeout: config.pollTimeoutSeconds, allowed_updates: ["message", "callback_query"] },
        // grammy types its signal parameter with a polyfill's AbortSignal; the runtime one is what it uses.
        stop.signal as unknown as Parameters<Api["getUpdates"]>[1],
      );
      backoff = 1000;
      for (const u of updates) {
        offset = Math.max(offset, u.update_id + 1);
        void onUpdate(u).catch((err: unknown) => log(`update ${u.update_id}: ${(err as Error).message}`));
      }
    } catch (err) {
      if (stop.signal.aborted) break;
      log(`getUpdates failed: ${describeTelegramError(err)}; retrying in ${backoff} ms`);
      await Bun.sleep(backoff);
      backoff = Math.min(POLL_BACKOFF_MAX_MS, backoff * 2);
    }
  }
  // Polling has stopped; replies being streamed get one last edit (bounded), their turns go on in the daemon
  // and the next run finishes them from the in-flight records.
  if (renders.size > 0) {
    log(`exiting: a last edit for ${renders.size} reply(ies) in flight; the next run finishes them`);
    await Promise.race([Promise.all([...renders].map((r) => r.flushPartial())), Bun.sleep(EXIT_GRACE_MS)]);
  }
  notify.stop();
  daemon.close();
  return exitCode;
}
