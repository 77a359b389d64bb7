/**
 * $CRABTALK_HOME/events.toml: the event bus's subscriptions. Each
 * [[subscription]] starts a turn of `target_agent` when an event whose source
 * matches `source` (exact or a glob with `*`) is published. Like crons.toml,
 * a bad entry is reported (file, entry, reason, fix) and the others work; the
 * daemon and `crabtalk subscribe` rewrite the file atomically.
 */
import { readFileSync } from "node:fs";
import { isTable, type Table } from "./errors.ts";
import { editTableArrayFile, parseSideFile } from "./table-file.ts";

export interface SubscriptionSpec {
  source: string;
  targetAgent: string;
  /** Template with {payload} and {source}; empty: the payload itself. */
  message: string;
  once: boolean;
}

export interface EventsFile {
  subscriptions: SubscriptionSpec[];
  errors: string[];
}

const KEYS = new Set(["source", "target_agent", "message", "once"]);

/** A [[subscription]] table as a spec, or the reason it is not one. */
export function entryToSubscription(t: Table): SubscriptionSpec | string {
  const unknown = Object.keys(t).filter((k) => !KEYS.has(k));
  if (unknown.length) return `unknown key(s) ${unknown.join(", ")}; use only ${[...KEYS].join(", ")}`;
  if (typeof t.source !== "string" || !/^[A-Za-z0-9*][A-Za-z0-9:._*/@-]{0,199}$/.test(t.source))
    return 'source must be an event source such as "agent:researcher:done" or a glob such as "cron:*:done"';
  if (typeof t.target_agent !== "string" || !t.target_agent) return "target_agent is required (the agent to run)";
  if (t.message !== undefined && typeof t.message !== "string") return "message must be a string";
  if (t.once !== undefined && typeof t.once !== "boolean") return "once must be true or false";
  return { source: t.source, targetAgent: t.target_agent, message: (t.message as string) ?? "", once: t.once === true };
}

export function subscriptionToEntry(s: SubscriptionSpec): Table {
  const t: Table = { source: s.source, target_agent: s.targetAgent };
  if (s.message) t.message = s.message;
  if (s.once) t.once = true;
  return t;
}

export function readEventsFile(file: string, validate: (s: SubscriptionSpec) => string | null): EventsFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { subscriptions: [], errors: [] };
  }
  return parseEvents(text, file, validate);
}

export function parseEvents(text: string, file: string, validate: (s: SubscriptionSpec) => string | null): EventsFile {
  const out: EventsFile = { subscriptions: [], errors: [] };
  const parsed = parseSideFile(text, file);
  if ("error" in parsed) {
    out.errors.push(parsed.error);
    return out;
  }
  const doc = parsed.doc;
  const entries = doc.subscription ?? [];
  if (!Array.isArray(entries)) {
    out.errors.push(`${file}: "subscription" must be an array of tables. Fix: write each as [[subscription]]`);
    return out;
  }
  for (const [index, entry] of (entries as unknown[]).entries()) {
    const label = `subscription #${index + 1}${isTable(entry) && typeof entry.source === "string" ? ` (${entry.source})` : ""}`;
    const spec = isTable(entry) ? entryToSubscription(entry) : "not a table";
    const problem = typeof spec === "string" ? spec : validate(spec);
    if (problem || typeof spec === "string") {
      out.errors.push(`${file}: ${label}: ${problem}. Fix: correct the entry; the other subscriptions work`);
      continue;
    }
    out.subscriptions.push(spec);
  }
  return out;
}

/** Rewrites events.toml's [[subscription]] array through `edit`, atomically; other entries are kept as they are. */
export function editEventsFile(file: string, edit: (entries: Table[]) => Table[]): void {
  editTableArrayFile(
    file,
    "subscription",
    "crabtalk event subscriptions (rewritten by the daemon and `crabtalk subscribe`)",
    edit,
  );
}
