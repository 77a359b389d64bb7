/**
 * Making a stored session live again: the store's resume, what it
 * repaired reported, a turn a crash cut off marked interrupted, and the
 * kept request prefix handed to the session's provider. A history the
 * store left unbuilt (ResumedSession.deferred) stays unbuilt in the live
 * session until something needs its messages (live-session.ts).
 */
import type { EncodedPrefix, Message, StreamFn } from "../provider/types.ts";
import type { ResumedSession, SessionStore } from "../store/types.ts";
import { logger } from "../util/log.ts";
import { SessionError } from "./errors.ts";
import { LiveSession, type UnbuiltHistory } from "./live-session.ts";
import { OPENING_RECORDS, type TurnOpener } from "./opening.ts";
import type { RuntimeSettings } from "./settings.ts";

const log = logger("runtime");

/**
 * `agent`'s model and the stream that routes it, or undefined when the
 * agent or its model is gone from the settings (its next turn says why).
 */
export function modelOf(settings: RuntimeSettings, agent: string): { model: string; stream: StreamFn } | undefined {
  const model = settings.agents.get(agent)?.model;
  if (model === undefined) return undefined;
  try {
    return { model, stream: settings.streamFor(model) };
  } catch {
    return undefined;
  }
}

/**
 * A stored session made live (not yet in the pool): only what the model
 * sees next is read. `settings` is read when the prefix arrives, so a
 * reconfiguration in between routes it to the agent's current model.
 * With `opener`, the store may write the turn's opening while it reads;
 * `opener.opened` then says what the turn must publish instead of its own.
 */
export async function resumeLive(
  store: SessionStore,
  settings: () => RuntimeSettings,
  id: number,
  opener?: TurnOpener,
): Promise<LiveSession> {
  const loaded = reportRepairs(id, await store.resume(id, opener));
  const agent = loaded.meta.agent;
  const prefix = loaded.requestPrefix ?? Promise.resolve(undefined);
  const handOver = (messages: readonly Message[]) =>
    void prefix.then((p) => {
      if (p) importPrefix(settings(), agent, messages, p);
    });
  const deferred = loaded.deferred;
  let history: Message[] | UnbuiltHistory;
  if (deferred) {
    // Built when first needed (LiveSession.history); the provider then keeps the prefix for it.
    const head = deferred.head;
    const forHead = prefix.then((p) => (p && p.count === head.count ? p : undefined));
    history = { head, rest: deferred.rest.slice(), prefix: forHead, onBuilt: handOver };
  } else {
    history = loaded.messages;
    // Taken when read (usually at once): the first request encodes the history itself if it comes first.
    handOver(loaded.messages);
  }
  const taken = opener?.takenBy(loaded);
  const session = new LiveSession(id, agent, loaded.meta.createdBy, history, taken?.start.seq ?? loaded.lastSeq, store);
  if (opener && taken) {
    // The store takes an opening only where no turn was left open, so there is no interruption to mark first.
    opener.opened = { ...taken, written: session.adoptWrite(taken.written, OPENING_RECORDS) };
    return session;
  }
  if (loaded.interruptedTurn) {
    log.warn(
      `session ${id}: the turn started at seq ${loaded.interruptedTurn.turnSeq} was cut off by a crash; marked interrupted`,
    );
    await session.append([
      { kind: "interrupted", turnSeq: loaded.interruptedTurn.turnSeq, reason: "the daemon stopped during this turn" },
    ]);
  }
  return session;
}

/** A session's history as the model sees it, read back from the store (after a release, see LiveSession.restoreHistory). */
export async function readHistory(store: SessionStore, id: number): Promise<Message[]> {
  return reportRepairs(id, await store.resume(id)).messages;
}

/** The error for a session the store does not have. */
export function sessionNotFound(id: number): SessionError {
  return new SessionError("not_found", `session ${id} not found; list sessions with \`crabtalk sessions\``);
}

/** Hands a resumed session's kept request prefix to its provider: only an optimization, so a refusal is silent. */
function importPrefix(
  settings: RuntimeSettings,
  agent: string,
  messages: readonly Message[],
  prefix: EncodedPrefix,
): void {
  const routed = modelOf(settings, agent);
  try {
    routed?.stream.importPrefix?.(routed.model, messages, prefix);
  } catch {
    // Called from a promise's callback: a throw here would be an unhandled rejection, and changes nothing.
  }
}

/**
 * A stored session or not_found, logging what the store repaired: the store
 * hands a torn last line to exactly one load or resume, which must report it.
 */
export function reportRepairs<L extends ResumedSession>(id: number, loaded: L | undefined): L {
  if (!loaded) throw sessionNotFound(id);
  if (loaded.tornLine)
    log.warn(
      `session ${id}: ignored a torn last line (${loaded.tornLine.bytes} bytes at offset ${loaded.tornLine.offset}: ${JSON.stringify(loaded.tornLine.preview)}), left by a crash`,
    );
  if (loaded.corruptLines > 0) log.warn(`session ${id}: skipped ${loaded.corruptLines} unreadable line(s)`);
  return loaded;
}
