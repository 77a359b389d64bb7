/**
 * Small helpers for tests that consume a provider stream: drain it into an
 * array and pick out the terminal event, whose shape every caller checks.
 */
import type { ProviderEvent } from "../../src/provider/types.ts";

export type Terminal = Extract<ProviderEvent, { type: "done" | "error" }>;

export async function collect(stream: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const events: ProviderEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** The one terminal event; fails loudly when there is not exactly one, or it is not last. */
export function terminal(events: ProviderEvent[]): Terminal {
  const ends = events.filter((e): e is Terminal => e.type === "done" || e.type === "error");
  if (ends.length !== 1) throw new Error(`expected exactly one terminal event, got ${ends.length}`);
  if (events[events.length - 1] !== ends[0]) throw new Error("terminal event is not the last event");
  return ends[0]!;
}

export const textOf = (events: ProviderEvent[]): string =>
  events.map((e) => (e.type === "text_delta" ? e.text : "")).join("");

export const thinkingOf = (events: ProviderEvent[]): string =>
  events.map((e) => (e.type === "thinking_delta" ? e.text : "")).join("");
