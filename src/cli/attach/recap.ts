/**
 * The few lines shown when attaching to an existing session: the last
 * exchanges, each cut to one line, so the user knows where they are
 * without the whole history scrolling past.
 */
import type { HistoryMessage } from "../../protocol/gen/crabtalk.ts";
import { oneLine, truncate, type Style } from "../render/style.ts";

/** Messages recapped: enough to recall the thread, few enough to keep the screen for the conversation. */
const RECAP_MESSAGES = 6;

export function recap(messages: readonly HistoryMessage[], style: Style, width: number): string[] {
  const said = messages.filter((m) => (m.role === "user" || m.role === "assistant") && m.content.trim() !== "");
  const shown = said.slice(-RECAP_MESSAGES);
  const lines: string[] = [];
  if (said.length > shown.length) lines.push(style.paint("dim", `… ${said.length - shown.length} earlier message(s)`));
  for (const m of shown) {
    const who = m.role === "user" ? "› " : "  ";
    const text = truncate(who + oneLine(m.content), Math.max(20, width - 1));
    lines.push(m.role === "user" ? style.paint("bold", text) : style.paint("dim", text));
  }
  return lines;
}
