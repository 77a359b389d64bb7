/**
 * The event bus from the command line:
 *   crabtalk publish SOURCE [PAYLOAD|-]   publish an event (- reads the payload from stdin)
 *   crabtalk subscribe SOURCE --agent A [--message T] [--once]
 *   crabtalk unsubscribe SOURCE [--agent A]
 *   crabtalk subscriptions [--json]       subscriptions, queued events, dead letters
 */
import { defineCommand } from "citty";
import { visibleControls as sanitize } from "./render/sanitize.ts";
import { connectionArgs, printJson, withClient } from "./shared.ts";

export const publishCommand = defineCommand({
  meta: {
    name: "publish",
    description: "Publish an event on the bus; subscribed agents run. PAYLOAD - reads it from stdin.",
  },
  args: {
    ...connectionArgs,
    source: {
      type: "positional",
      required: true,
      description: 'The source, e.g. "deploy:web:done"',
      valueHint: "SOURCE",
    },
    payload: {
      type: "positional",
      required: false,
      description: "The payload text, or - for stdin",
      valueHint: "PAYLOAD",
    },
  },
  async run({ args }) {
    const payload = args.payload === "-" ? await new Response(Bun.stdin.stream()).text() : (args.payload ?? "");
    await withClient(args, async (client) => {
      const reply = await client.request({ publishEvent: { source: args.source, payload } });
      process.stdout.write(`${reply.ack?.message ?? "published"}\n`);
    });
  },
});

export const subscribeCommand = defineCommand({
  meta: {
    name: "subscribe",
    description: "Run an agent whenever an event matches SOURCE (exact or a glob: cron:*:done).",
  },
  args: {
    ...connectionArgs,
    source: { type: "positional", required: true, description: "The source or glob", valueHint: "SOURCE" },
    agent: { type: "string", required: true, description: "The agent to run" },
    message: { type: "string", description: "Template with {payload} and {source} (default: the payload)" },
    once: { type: "boolean", description: "Remove the subscription after its first delivery" },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({
        subscribeBus: {
          subscription: {
            source: args.source,
            targetAgent: args.agent,
            message: args.message ?? "",
            once: args.once === true,
          },
        },
      });
      process.stdout.write(`${reply.ack?.message ?? "subscribed"}\n`);
    });
  },
});

export const unsubscribeCommand = defineCommand({
  meta: { name: "unsubscribe", description: "Remove the subscriptions of SOURCE (to --agent only, when given)." },
  args: {
    ...connectionArgs,
    source: {
      type: "positional",
      required: true,
      description: "The source or glob as subscribed",
      valueHint: "SOURCE",
    },
    agent: { type: "string", description: "Only the subscription to this agent" },
  },
  async run({ args }) {
    await withClient(args, async (client) => {
      const reply = await client.request({ unsubscribeBus: { source: args.source, targetAgent: args.agent ?? "" } });
      process.stdout.write(`${reply.ack?.message ?? "removed"}\n`);
    });
  },
});

export const subscriptionsCommand = defineCommand({
  meta: {
    name: "subscriptions",
    description: "The bus: subscriptions, events waiting for delivery, and dead letters.",
  },
  args: { ...connectionArgs, json: { type: "boolean", description: "Print JSON instead of text" } },
  async run({ args }) {
    await withClient(args, async (client) => {
      const s = (await client.request({ busStatus: {} })).busStatus;
      if (args.json) return printJson(s ?? {});
      for (const e of s?.errors ?? []) process.stdout.write(`refused: ${sanitize(e)}\n`);
      if (!s?.subscriptions.length) process.stdout.write("no subscriptions (crabtalk subscribe SOURCE --agent A)\n");
      for (const sub of s?.subscriptions ?? [])
        process.stdout.write(
          `${sanitize(sub.source)} -> ${sanitize(sub.targetAgent)}${sub.once ? " (once)" : ""}${sub.message ? `  message: ${sanitize(sub.message.split("\n")[0]!)}` : ""}\n`,
        );
      process.stdout.write(`queued: ${s?.queued ?? 0}\n`);
      const dead = s?.deadLetters ?? [];
      if (dead.length) process.stdout.write(`dead letters (${dead.length}):\n`);
      for (const d of dead)
        process.stdout.write(
          `  ${new Date(Number(d.atMs)).toISOString()}  ${sanitize(d.event?.source ?? "")} -> ${sanitize(d.targetAgent)}: ${sanitize(d.reason)}\n`,
        );
    });
  },
});
