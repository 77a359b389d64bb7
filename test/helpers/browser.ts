/**
 * Debian's chromium driven by playwright-core, for the dashboard's browser
 * test and bench: one launch per file, headless, no sandbox (CI runs as
 * root in a container). `CHROMIUM` is null when /usr/bin/chromium is
 * missing: install it with `apt-get install chromium` (see README).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : null;

export const ARTIFACTS = join(import.meta.dir, "..", "..", "test-artifacts", "dashboard");

export function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error("/usr/bin/chromium is missing: apt-get install chromium (see README, Dashboard)");
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
    ],
  });
}
