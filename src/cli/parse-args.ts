/**
 * The argument parser citty is given inside the compiled binary: Node's
 * `util.parseArgs`, ported for what citty 0.2 asks of it (`args`,
 * `options` of type string or boolean with `short`, `default` and
 * `multiple`, `allowPositionals`, `strict: false`). scripts/build-binary.ts
 * (cittyParser) rewrites citty's `import { parseArgs } from "node:util"`
 * to import this file instead.
 *
 * Why: citty needs one function of node:util, and loading node:util costs
 * 1.05 to 1.23 ms in a compiled probe. In the binary (fresh-copy A/B, 40 to
 * 60 runs each) the daemon answered its first ping 1.1 ms sooner (19.5 to
 * 18.4 ms) with 1.1 MB less RSS; `send` and `status` gained 0.3 to 0.5 ms,
 * as they load some of what node:util shares with other modules anyway.
 *
 * The port keeps Node's algorithm step by step (tokens, short groups, `--`,
 * a string option taking the next argument whatever it looks like, defaults
 * filled last, the same config checks, whose throw makes citty fall back to
 * plain positionals), and test/cli/parse-args.test.ts holds it to
 * node:util's own answer for every case. A config it does not port
 * (`strict`, `tokens`, `allowNegative`) throws, so a citty that starts
 * asking for more is caught by that test (which also pins citty's call),
 * not by a wrong parse.
 */

export interface ParseArgsOptionConfig {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
}

export interface ParseArgsConfig {
  args?: string[];
  options?: Record<string, ParseArgsOptionConfig>;
  allowPositionals?: boolean;
  strict?: boolean;
  tokens?: boolean;
  allowNegative?: boolean;
}

type Value = string | boolean | (string | boolean)[];

export interface ParsedArgs {
  values: Record<string, Value | undefined>;
  positionals: string[];
}

type Token = { kind: "option"; name: string; value: string | undefined } | { kind: "positional"; value: string };

type Options = Record<string, ParseArgsOptionConfig>;

const own = (obj: object | undefined | null, key: string): unknown =>
  obj != null && Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;

const optionOwn = (options: Options, name: string, key: keyof ParseArgsOptionConfig): unknown =>
  Object.hasOwn(options, name) ? own(options[name], key) : undefined;

/** Node's parseArgs for citty's calls; see the file's comment for what is ported. */
export function parseArgs(config: ParseArgsConfig = {}): ParsedArgs {
  const args = (own(config, "args") as string[] | undefined) ?? process.argv.slice(2);
  const strict = (own(config, "strict") as boolean | undefined) ?? true;
  const allowPositionals = (own(config, "allowPositionals") as boolean | undefined) ?? !strict;
  const options = (own(config, "options") as Options | undefined) ?? {};
  if (strict || own(config, "tokens") || own(config, "allowNegative"))
    throw new TypeError("crabtalk's parseArgs ports only strict: false without tokens or allowNegative (citty's call)");
  if (!Array.isArray(args)) throw new TypeError('The "args" property must be an array');
  if (typeof allowPositionals !== "boolean") throw new TypeError('The "allowPositionals" property must be a boolean');
  if (typeof options !== "object" || options === null) throw new TypeError('The "options" property must be an object');
  for (const [name, option] of Object.entries(options)) checkOption(name, option);

  const values: Record<string, Value | undefined> = Object.create(null);
  const positionals: string[] = [];
  for (const token of tokensOf(args, options)) {
    if (token.kind === "option") store(token.name, token.value, options, values);
    else {
      if (!allowPositionals) throw new TypeError(`Unexpected argument '${token.value}'`);
      positionals.push(token.value);
    }
  }
  for (const [name, option] of Object.entries(options)) {
    const fallback = own(option, "default") as Value | undefined;
    if (fallback !== undefined && values[name] === undefined && name !== "__proto__") values[name] = fallback;
  }
  return { values, positionals };
}

/** Node's checks of one option's config (a throw is what makes citty parse everything as positionals). */
function checkOption(name: string, option: ParseArgsOptionConfig): void {
  if (typeof option !== "object" || option === null) throw new TypeError(`options.${name} must be an object`);
  const type = own(option, "type");
  if (type !== "string" && type !== "boolean") throw new TypeError(`options.${name}.type must be string or boolean`);
  if (Object.hasOwn(option, "short")) {
    const short = option.short;
    if (typeof short !== "string") throw new TypeError(`options.${name}.short must be a string`);
    if (short.length !== 1) throw new TypeError(`options.${name}.short must be a single character`);
  }
  const multiple = own(option, "multiple");
  if (Object.hasOwn(option, "multiple") && typeof multiple !== "boolean")
    throw new TypeError(`options.${name}.multiple must be a boolean`);
  const fallback = own(option, "default");
  if (fallback === undefined) return;
  const ok = (v: unknown) => typeof v === type;
  if (multiple ? !(Array.isArray(fallback) && fallback.every(ok)) : !ok(fallback))
    throw new TypeError(`options.${name}.default must be a ${type}${multiple ? " array" : ""}`);
}

/** Phase 1 of Node's parse: arguments to tokens, expanding short groups (`-abc`) in place. */
function tokensOf(args: string[], options: Options): Token[] {
  const tokens: Token[] = [];
  const remaining = [...args];
  while (remaining.length > 0) {
    const arg = remaining.shift()!;
    const next = remaining[0];
    if (arg === "--") {
      // Everything after a bare `--` is a positional (Node's terminator token is only for `tokens: true`).
      for (const rest of remaining) tokens.push({ kind: "positional", value: rest });
      break;
    }
    if (isLoneShort(arg)) {
      // -f, and -f VALUE when f is a string option (the value may start with a dash).
      const name = longFor(arg.charAt(1), options);
      const value = optionOwn(options, name, "type") === "string" && next != null ? remaining.shift() : undefined;
      tokens.push({ kind: "option", name, value });
      continue;
    }
    if (startsShort(arg) && optionOwn(options, longFor(arg.charAt(1), options), "type") !== "string") {
      // -abc is -a -b -c; a string option inside takes the rest: -abfFILE is -a -b -fFILE.
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i++) {
        const short = arg.charAt(i);
        if (optionOwn(options, longFor(short, options), "type") !== "string" || i === arg.length - 1)
          expanded.push(`-${short}`);
        else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      remaining.unshift(...expanded);
      continue;
    }
    if (startsShort(arg)) {
      // -fFILE, f a string option.
      tokens.push({ kind: "option", name: longFor(arg.charAt(1), options), value: arg.slice(2) });
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--") && !arg.includes("=", 3)) {
      // --foo, and --foo VALUE when foo is a string option.
      const name = arg.slice(2);
      const value = optionOwn(options, name, "type") === "string" && next != null ? remaining.shift() : undefined;
      tokens.push({ kind: "option", name, value });
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      // --foo=bar
      const eq = arg.indexOf("=");
      tokens.push({ kind: "option", name: arg.slice(2, eq), value: arg.slice(eq + 1) });
      continue;
    }
    tokens.push({ kind: "positional", value: arg });
  }
  return tokens;
}

const isLoneShort = (arg: string) => arg.length === 2 && arg.charAt(0) === "-" && arg.charAt(1) !== "-";

/** `-x…` with more after the letter (a group, or a short option with its value attached). */
const startsShort = (arg: string) => arg.length > 2 && arg.charAt(0) === "-" && arg.charAt(1) !== "-";

function longFor(short: string, options: Options): string {
  for (const [name, option] of Object.entries(options)) if (own(option, "short") === short) return name;
  return short;
}

/** Phase 2: the value as given (a flag without one is true), appended when the option is `multiple`. */
function store(name: string, value: string | undefined, options: Options, values: Record<string, Value | undefined>) {
  if (name === "__proto__") return;
  const stored = value ?? true;
  if (optionOwn(options, name, "multiple")) {
    const list = values[name];
    if (Array.isArray(list)) list.push(stored);
    else values[name] = [stored];
  } else values[name] = stored;
}
