/**
 * Chat -> session map: which agent a chat talks to and its session with
 * each agent, plus the chat's recent sessions for /sessions. Sessions are
 * durable in the daemon; this map is the gateway's half, kept in
 * gateways/telegram/chats-<bot id>.json so a chat continues its session
 * after a gateway or a daemon restart.
 */
import { readJson, writeJsonAtomic } from "./json-file.ts";

interface ChatState {
  agent?: string;
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

  recent(chat: number): { session: number; agent: string; at: number }[] {
    return this.chats[String(chat)]?.recent ?? [];
  }

  private save(): void {
    writeJsonAtomic(this.file, { chats: this.chats });
  }
}
