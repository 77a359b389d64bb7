/**
 * `crabtalk telegram serve --daemon SOCKET | --tcp HOST:PORT [--token T]
 * --config JSON|FILE`: the Telegram gateway, a client of the daemon. The
 * daemon runs it as a [services.<name>] kind = "gateway" service (and passes
 * --daemon and --config itself); by hand it can serve a daemon on another
 * host. The gateway and grammy are imported only when this command runs:
 * no other command, and never the daemon, pays for them.
 */
import { defineCommand } from "citty";
import { resolveHome } from "../config/paths.ts";
import { CliFailure, clientOptions, connectionArgs } from "./shared.ts";

const serveCommand = defineCommand({
  meta: {
    name: "serve",
    description:
      "Run the Telegram gateway: long-poll the Bot API and answer allowed users' chats with the daemon's agents",
  },
  args: {
    daemon: {
      type: "string",
      description: "Unix socket of the daemon (default: $CRABTALK_HOME/crabtalk.sock)",
      valueHint: "SOCKET",
    },
    tcp: connectionArgs.tcp,
    token: connectionArgs.token,
    tls: connectionArgs.tls,
    fingerprint: connectionArgs.fingerprint,
    config: {
      type: "string",
      required: true,
      description:
        "The gateway's settings: a JSON object, or a TOML/JSON file (token, allowed_users, agent, notify...)",
      valueHint: "JSON|FILE",
    },
  },
  async run({ args }) {
    const [{ loadTelegramConfig, GatewayConfigError }, { serveTelegram }] = await Promise.all([
      import("../gateway/telegram/config.ts"),
      import("../gateway/telegram/gateway.ts"),
    ]);
    let config: Awaited<ReturnType<typeof loadTelegramConfig>>;
    try {
      config = loadTelegramConfig(args.config);
    } catch (err) {
      if (err instanceof GatewayConfigError) throw new CliFailure(err.message);
      throw err;
    }
    const endpoint = clientOptions({
      socket: args.daemon,
      tcp: args.tcp,
      token: args.token,
      tls: args.tls,
      fingerprint: args.fingerprint,
    });
    const code = await serveTelegram({ endpoint, config, home: resolveHome() });
    process.exit(code);
  },
});

export const telegramCommand = defineCommand({
  meta: { name: "telegram", description: "The Telegram gateway (run by the daemon as a service, or by hand)" },
  subCommands: { serve: serveCommand },
});
