/**
 * Config errors that tell the user what is wrong, where, and how to fix it.
 * Every validation failure in src/config/ throws a ConfigError; the daemon
 * prints `error.message` as is.
 */
export class ConfigError extends Error {
  /**
   * @param line where the key is written; parseConfig fills it in from the source text when left out.
   * @param locate the dotted path to point at when it is more precise than `key` (an unknown key inside a section).
   */
  constructor(
    readonly file: string,
    readonly key: string,
    readonly problem: string,
    readonly fix: string,
    readonly line?: number,
    readonly locate?: string,
  ) {
    super(`${file}${line ? `:${line}` : ""}: ${key ? `[${key}] ` : ""}${problem}. Fix: ${fix}`);
    this.name = "ConfigError";
  }

  /** The same error pointing at `line`. */
  atLine(line: number): ConfigError {
    return new ConfigError(this.file, this.key, this.problem, this.fix, line, this.locate);
  }
}

/** Reading context handed to each section parser. */
export interface ConfigContext {
  file: string;
  env: Record<string, string | undefined>;
}

export type Table = Record<string, unknown>;

export function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export function expectString(ctx: ConfigContext, key: string, v: unknown, fix: string): string {
  if (typeof v !== "string") throw new ConfigError(ctx.file, key, `expected a string, got ${describe(v)}`, fix);
  return v;
}

export function expectNumber(ctx: ConfigContext, key: string, v: unknown, fix: string): number {
  if (typeof v === "number" && !Number.isFinite(v))
    throw new ConfigError(ctx.file, key, `expected a finite number, got ${describe(v)}`, fix);
  if (typeof v !== "number") throw new ConfigError(ctx.file, key, `expected a number, got ${describe(v)}`, fix);
  return v;
}

export function expectBool(ctx: ConfigContext, key: string, v: unknown, fix: string): boolean {
  if (typeof v !== "boolean") throw new ConfigError(ctx.file, key, `expected true or false, got ${describe(v)}`, fix);
  return v;
}

export function expectStringArray(ctx: ConfigContext, key: string, v: unknown, fix: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new ConfigError(ctx.file, key, `expected a list of strings, got ${describe(v)}`, fix);
  }
  return v as string[];
}

export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  // TOML's spellings: JSON has none for these and would print null.
  if (typeof v === "number" && Number.isNaN(v)) return "nan";
  if (typeof v === "number" && !Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Array.isArray(v)) return "a list";
  if (isTable(v)) return "a table";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Rejects keys a section does not know, naming the close ones it does. */
export function rejectUnknownKeys(ctx: ConfigContext, section: string, table: Table, known: readonly string[]): void {
  for (const key of Object.keys(table)) {
    if (!known.includes(key)) {
      throw new ConfigError(
        ctx.file,
        section,
        `unknown key "${key}"`,
        `remove it or use one of: ${known.join(", ")}`,
        undefined,
        section ? `${section}.${key}` : key,
      );
    }
  }
}

/**
 * Expands ${VAR} from the environment. A missing variable is an error naming
 * it: silently sending an empty API key only moves the failure somewhere less clear.
 */
export function expandEnv(ctx: ConfigContext, key: string, value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = ctx.env[name];
    if (v === undefined || v === "") {
      throw new ConfigError(
        ctx.file,
        key,
        `environment variable ${name} is not set`,
        `export ${name}=... before starting the daemon, or write the value in the file`,
      );
    }
    return v;
  });
}
