/**
 * `crabtalk token create|list|revoke`: the tokens remote (TCP) clients
 * authenticate with. The token is printed once; only its SHA-256 is kept in
 * $CRABTALK_HOME/tokens.toml (0600). A running daemon re-reads the file
 * when it changes, so a revocation also closes connections using the token.
 */
import { defineCommand } from "citty";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { resolveHome } from "../config/paths.ts";
import {
  mintToken,
  NAME_PATTERN,
  parseDuration,
  readTokens,
  SCOPES,
  type Scope,
  tokensFileIn,
  writeTokens,
} from "../config/tokens.ts";
import { CliFailure, EXIT_USAGE, printJson } from "./shared.ts";

const fileArg = {
  file: {
    type: "string",
    description: "Token store (default: $CRABTALK_HOME/tokens.toml)",
    valueHint: "PATH",
  },
} as const;

function storeFile(file: string | undefined): string {
  return file || tokensFileIn(resolveHome());
}

const create = defineCommand({
  meta: { name: "create", description: "Make a token and print it once (only its hash is stored)" },
  args: {
    name: { type: "positional", description: "A name for the token (lowercase letters, digits, -)", required: true },
    scope: { type: "string", description: "read | chat | admin", required: true, valueHint: "SCOPE" },
    agents: { type: "string", description: "Limit the token to these agents (comma-separated)", valueHint: "a,b" },
    expires: { type: "string", description: "Lifetime such as 30d, 12h, 45m", valueHint: "DURATION" },
    ...fileArg,
  },
  run({ args }) {
    const name = String(args.name);
    if (!NAME_PATTERN.test(name))
      throw new CliFailure(`token name "${name}": use lowercase letters, digits and -, at most 40`, EXIT_USAGE);
    const scope = String(args.scope) as Scope;
    if (!SCOPES.includes(scope))
      throw new CliFailure(`--scope "${args.scope}": use one of ${SCOPES.join(", ")}`, EXIT_USAGE);
    const agents = args.agents
      ? String(args.agents)
          .split(",")
          .map((a) => a.trim())
          .filter(Boolean)
      : null;
    if (agents && scope === "admin")
      throw new CliFailure(
        "--agents does not go with --scope admin (admin sees everything); use read or chat",
        EXIT_USAGE,
      );
    let expiresMs: number | null = null;
    if (args.expires) {
      const ms = parseDuration(String(args.expires));
      if (ms === null) throw new CliFailure(`--expires "${args.expires}": write e.g. 30d, 12h, 45m or 90s`, EXIT_USAGE);
      expiresMs = Date.now() + ms;
    }
    const file = storeFile(args.file);
    const tokens = readTokens(file);
    if (tokens.some((t) => t.name === name))
      throw new CliFailure(`a token named "${name}" exists; revoke it first (crabtalk token revoke ${name})`);
    const { token, record } = mintToken(name, scope, agents, expiresMs);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeTokens(file, [...tokens, record]);
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `token "${name}" (${scope}${agents ? `, agents ${agents.join(",")}` : ""}${expiresMs ? `, expires ${new Date(expiresMs).toISOString()}` : ""}) saved to ${file}; it is shown only this once\n`,
    );
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List tokens (names, scopes, agents, expiry; never the tokens)" },
  args: { ...fileArg, json: { type: "boolean", description: "One JSON object per token" } },
  run({ args }) {
    const tokens = readTokens(storeFile(args.file));
    const now = Date.now();
    for (const t of tokens) {
      const expired = t.expiresMs !== null && t.expiresMs <= now;
      if (args.json) {
        printJson({
          name: t.name,
          scope: t.scope,
          agents: t.agents,
          createdMs: t.createdMs,
          expiresMs: t.expiresMs,
          expired,
        });
        continue;
      }
      const expiry =
        t.expiresMs === null ? "never" : `${new Date(t.expiresMs).toISOString()}${expired ? " (expired)" : ""}`;
      process.stdout.write(
        `${t.name.padEnd(16)} ${t.scope.padEnd(6)} agents ${t.agents ? t.agents.join(",") : "*"}  expires ${expiry}\n`,
      );
    }
    if (tokens.length === 0 && !args.json)
      process.stderr.write("no tokens (crabtalk token create NAME --scope chat)\n");
  },
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Delete a token; a running daemon closes its connections at once" },
  args: { name: { type: "positional", description: "The token's name", required: true }, ...fileArg },
  run({ args }) {
    const file = storeFile(args.file);
    const tokens = readTokens(file);
    const rest = tokens.filter((t) => t.name !== args.name);
    if (rest.length === tokens.length) throw new CliFailure(`no token named "${args.name}" in ${file}`);
    writeTokens(file, rest);
    process.stderr.write(`token "${args.name}" revoked\n`);
  },
});

export const tokenCommand = defineCommand({
  meta: { name: "token", description: "Tokens for remote (TCP) clients: create, list, revoke" },
  subCommands: { create, list, revoke },
});
