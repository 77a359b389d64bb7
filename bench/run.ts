/**
 * Runs every benchmark in sequence (`npm run bench`), each in its own
 * process so one's garbage cannot skew the next. Each prints its own table
 * of medians and ratios against a baseline measured in the same run.
 * The reliability suite is separate: `npm run reliability`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

const BENCHES = [
  "core.ts",
  "provider-normalize.ts",
  "turn-latency.ts",
  "replay.ts",
  "resume.ts",
  "store.ts",
  "idle-sessions-rss.ts",
  "mcp.ts",
  "memory.ts",
  "ext.ts",
  "delegation.ts",
  "acp.ts",
  "sdk.ts",
  "remote.ts",
  "cron.ts",
];
const only = process.argv.slice(2);
let failed = 0;
for (const file of BENCHES) {
  if (only.length > 0 && !only.some((o) => file.startsWith(o))) continue;
  const path = join(import.meta.dir, file);
  if (!existsSync(path)) continue;
  console.log(`\n### bench/${file}`);
  const proc = Bun.spawn([process.execPath, path], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) {
    failed++;
    console.error(`bench/${file} failed`);
  }
}
process.exit(failed === 0 ? 0 : 1);
