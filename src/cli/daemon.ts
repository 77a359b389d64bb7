/**
 * `crabtalk daemon`: runs the daemon in the foreground until SIGTERM or
 * SIGINT. The only command that imports src/daemon.
 */
import { defineCommand } from "citty";
import { resolveHome } from "../config/paths.ts";
import { AlreadyRunning } from "../daemon/lock.ts";
import { runDaemon } from "../daemon/daemon.ts";
import { ConfigError } from "../config/errors.ts";
import { StartupError } from "../daemon/startup-error.ts";
import { CliFailure } from "./failure.ts";

const LEVELS: Record<string, number> = { error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export const daemonCommand = defineCommand({
  meta: {
    name: "daemon",
    description:
      "Run the crabtalk daemon in the foreground (as systemd or Docker would). Listens on $CRABTALK_HOME/crabtalk.sock and on loopback TCP; stop it with Ctrl-C or SIGTERM.",
  },
  args: {
    "log-level": {
      type: "enum",
      options: Object.keys(LEVELS),
      default: "info",
      description: "Lowest level of log line to write (stderr and $CRABTALK_HOME/logs/daemon.log)",
    },
  },
  async run({ args }) {
    const home = resolveHome();
    try {
      const code = await runDaemon({ home, env: process.env, logLevel: LEVELS[args["log-level"]] ?? 3 });
      process.exit(code);
    } catch (err) {
      if (err instanceof AlreadyRunning)
        throw new CliFailure(
          `${err.message}; home ${home}. Stop it first (kill ${err.pid}) or use another CRABTALK_HOME.`,
        );
      if (err instanceof ConfigError) throw new CliFailure(`config error: ${err.message}`);
      if (err instanceof StartupError) throw new CliFailure(`cannot start: ${err.message}`);
      throw err;
    }
  },
});
