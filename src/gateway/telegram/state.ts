/**
 * Chat -> session map: which agent a chat talks to and its session with
 * each agent, plus the chat's recent sessions for /sessions. Sessions are
 * durable in the daemon; this map is the gateway's half, kept in
 * gateways/telegram/chats-<bot id>.json so a chat continues its session
 * after a gateway or a daemon restart. It also holds each chat's turn in
 * flight (session, start seq, the Telegram messages of its reply), so a
 * gateway that restarts mid-turn re-attaches and finishes the reply
 * (resume.ts); the record is cleared once the reply is final.
 */
import { readJson, writeJsonAtomic } from "./json-file.ts";

/** A chat's turn whose reply is not final on Telegram yet. */
export interface InFlight {
  session: number;
  agent: string;
  /** The turn's start seq: a re-attach replays the turn from there. */
  turn: number;
  /** Ids of the Telegram messages the reply was written into so far, in order. */
  messages: number[];
}

interface ChatState {
  agent?: string;
  inflight?: InFlight;
  /** agent -> session id */
  sessions: Record<string, number>;
  /** newest first */
  recent: { session: number; agent: string; at: number }[];
}

/** Sessions remembered per chat for /sessions. */
const RECENT_KEPT = 10;

export class ChatSessions {
  private readonly chats: Record<string, ChatState>;

  constructor(
    private readonly file: string,
    private readonly defaultAgent: string,
  ) {
    this.chats = readJson<{ chats: Record<string, ChatState> }>(file, { chats: {} }).chats;
  }

  private chat(id: number): ChatState {
    const key = String(id);
    this.chats[key] ??= { sessions: {}, recent: [] };
    return this.chats[key];
  }

  agentOf(chat: number): string {
    return this.chats[String(chat)]?.agent ?? this.defaultAgent;
  }

  setAgent(chat: number, agent: string): void {
    this.chat(chat).agent = agent;
    this.save();
  }

  /** The session the chat's next message continues with its current agent; undefined = a new one. */
  sessionOf(chat: number, agent = this.agentOf(chat)): number | undefined {
    return this.chats[String(chat)]?.sessions[agent];
  }

  setSession(chat: number, agent: string, session: number): void {
    const c = this.chat(chat);
    if (c.sessions[agent] === session) return;
    c.sessions[agent] = session;
    c.recent = [{ session, agent, at: Date.now() }, ...c.recent.filter((r) => r.session !== session)].slice(
      0,
      RECENT_KEPT,
    );
    this.save();
  }

  /** /new: the next message starts a fresh session. */
  forget(chat: number, agent = this.agentOf(chat)): void {
    delete this.chat(chat).sessions[agent];
    this.save();
  }

  inflight(chat: number): InFlight | undefined {
    return this.chats[String(chat)]?.inflight;
  }

  /** Chats with a turn in flight, as the last run left them. */
  allInflight(): { chat: number; turn: InFlight }[] {
    const out: { chat: number; turn: InFlight }[] = [];
    for (const [key, c] of Object.entries(this.chats))
      if (c.inflight) out.push({ chat: Number(key), turn: c.inflight });
    return out;
  }

  setInflight(chat: number, turn: InFlight | undefined): void {
    const c = this.chat(chat);
    if (turn) c.inflight = { ...turn, messages: [...turn.messages] };
    else if (c.inflight) delete c.inflight;
    else return;
    this.save();
  }

  recent(chat: number): { session: number; agent: string; at: number }[] {
    return this.chats[String(chat)]?.recent ?? [];
  }

  private save(): void {
    writeJsonAtomic(this.file, { chats: this.chats });
  }
}
