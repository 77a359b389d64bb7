/**
 * `crabtalk dashboard`: asks the running daemon for a one-time login link to
 * its web dashboard ([daemon] http), prints it, and opens a browser when
 * this machine has one. The link works once, for five minutes; it becomes a
 * session cookie in the browser that opens it.
 */
import { defineCommand } from "citty";
import { connectionArgs, printJson, withClient } from "./shared.ts";

/** The opener of this platform's default browser, or null (a server, a container): printing the link is enough then. */
function browserOpener(env: Record<string, string | undefined>): string[] | null {
  if (process.platform === "darwin") return Bun.which("open") ? ["open"] : null;
  if (process.platform === "win32") return null;
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return null;
  return Bun.which("xdg-open") ? ["xdg-open"] : null;
}

/** Starts the browser without waiting for it; any failure only means the user opens the link by hand. */
function openBrowser(url: string): boolean {
  const opener = browserOpener(process.env);
  if (!opener) return false;
  try {
    const child = Bun.spawn([...opener, url], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    child.unref();
    return true;
  } catch {
    return false;
  }
}

export const dashboardCommand = defineCommand({
  meta: {
    name: "dashboard",
    description:
      'Print a one-time login link to the web dashboard (needs [daemon] http = "127.0.0.1:6689") and open it in a browser when one is available.',
  },
  args: {
    ...connectionArgs,
    json: { type: "boolean", description: "Print one JSON object (url, expiresMs) instead of text; opens nothing" },
    open: {
      type: "boolean",
      default: true,
      description: "Open the link in the default browser",
      negativeDescription: "Only print the link",
    },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({ dashboardLogin: {} });
      const login = reply.dashboardLogin!;
      if (args.json) return printJson({ url: login.url, expiresMs: login.expiresMs });
      const minutes = Math.max(1, Math.round((login.expiresMs - Date.now()) / 60_000));
      process.stdout.write(`${login.url}\n`);
      const opened = args.open && openBrowser(login.url);
      process.stderr.write(
        `${opened ? "opened in your browser; " : ""}the link works once, within ${minutes} min (run crabtalk dashboard again for another)\n`,
      );
    });
  },
});
