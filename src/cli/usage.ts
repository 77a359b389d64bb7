/**
 * `crabtalk usage`: today's tokens per agent and model, as the daemon
 * counted them from provider usage, with the daily budget (if any) and when
 * it resets. Days are the daemon's local dates; the budget resets at local
 * midnight. `--json` prints the daemon's UsageReport unchanged for scripts.
 */
import { defineCommand } from "citty";
import type { UsageReport } from "../protocol/gen/crabtalk.ts";
import { CliFailure, connectionArgs, printJson, withClient } from "./shared.ts";

const count = (n: number): string => n.toLocaleString("en-US");

/** "2026-11-24 00:00" in local time: when the daily budget starts over. */
export function formatLocalTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The report as an aligned table plus a budget line. */
export function formatUsage(report: UsageReport): string {
  const lines = [`tokens used today (${report.day})`];
  if (report.rows.length === 0) {
    lines.push("no model calls yet today");
  } else {
    const header = ["agent", "model", "prompt", "completion", "cache read", "total", "calls"];
    const rows = report.rows.map((r) => {
      const u = r.usage;
      const prompt = u?.promptTokens ?? 0;
      const completion = u?.completionTokens ?? 0;
      return [
        r.agent,
        r.model,
        count(prompt),
        count(completion),
        count(u?.cacheReadTokens ?? 0),
        count(prompt + completion),
        count(r.turns),
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    // Names left-aligned, numbers right-aligned.
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd();
    lines.push(line(header), ...rows.map(line));
  }
  const resets = formatLocalTime(report.resetsAtMs);
  if (report.dailyLimit > 0) {
    const left = Math.max(0, report.dailyLimit - report.usedToday);
    const state = left === 0 ? "spent: new turns are refused" : `${count(left)} left`;
    lines.push(
      `daily budget: ${count(report.usedToday)} of ${count(report.dailyLimit)} tokens (${state}); resets at ${resets} local time`,
    );
  } else {
    lines.push(
      `${count(report.usedToday)} tokens today; no daily budget (set [budget] daily_tokens in crabtalk.toml); the count resets at ${resets} local time`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export const usageCommand = defineCommand({
  meta: {
    name: "usage",
    description: "Show today's token usage per agent and model, the daily budget and when it resets.",
  },
  args: {
    ...connectionArgs,
    json: { type: "boolean", description: "Print the daemon's usage report as one JSON object" },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({ usage: {} });
      const report = reply.usage;
      if (!report) throw new CliFailure(`the daemon answered the usage request with ${reply.msg ?? "nothing"}`);
      if (args.json) return printJson(report);
      process.stdout.write(formatUsage(report));
    });
  },
});
