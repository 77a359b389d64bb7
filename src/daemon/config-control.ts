/**
 * The daemon's config control: the reloader wired to the running daemon
 * (parse with the daemon's options, adopt = swap the config and reconfigure
 * the runtime, announce = a `reloaded` event on the bus), the config
 * request handlers, and the optional file watcher.
 *
 * Watching: editors save by writing a temp file and renaming it over the
 * original, and a watcher on the file itself goes dead after the first such
 * rename (measured with Bun's fs.watch), so the directory is watched and
 * events are filtered by name, then debounced.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Config } from "../config/load.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { body } from "../session/events.ts";
import { logger } from "../util/log.ts";
import { configHandlers } from "./handlers/config.ts";
import type { HandlerTable } from "./router.ts";
import { Reloader, type ReloadParticipant, type ReloadReport } from "./reload.ts";

const log = logger("config");

/** Saves come in bursts (truncate + write, temp + rename): one reload per burst. */
const WATCH_DEBOUNCE_MS = 250;

export interface ConfigControlDeps {
  file: string;
  readText(): string;
  parse(text: string): Config;
  current(): Config;
  setCurrent(config: Config): void;
  /** Rebuilds the runtime's settings from the current config (SessionRuntime.reconfigure). */
  applySettings(): void;
  runtime: SessionRuntime;
}

export class ConfigControl {
  readonly reloader: Reloader;
  private readonly participants: ReloadParticipant[] = [];
  private watcher: FSWatcher | null = null;
  private debounce: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly deps: ConfigControlDeps) {
    this.reloader = new Reloader({
      parse: deps.parse,
      readText: deps.readText,
      current: deps.current,
      adopt: (next) => {
        deps.setCurrent(next);
        deps.applySettings();
        this.watchIf(next.daemon.watchConfig);
      },
      participants: () => this.participants,
      announce: (report: ReloadReport, trigger) =>
        deps.runtime.publishDaemonEvent(body("reloaded", { ...report, trigger })),
    });
    this.watchIf(deps.current().daemon.watchConfig);
  }

  /** Extensions, MCP servers, cron... apply their part of each reload through this. */
  addParticipant(p: ReloadParticipant): void {
    this.participants.push(p);
  }

  handlers(): HandlerTable {
    return configHandlers({ file: this.deps.file, readText: this.deps.readText, reloader: this.reloader });
  }

  /** A reload whose failure is only logged (by the reloader), not thrown: SIGHUP, a saved file. */
  async reloadQuietly(trigger: string): Promise<void> {
    await this.reloader.reload(trigger).catch(() => undefined);
  }

  private watchIf(enabled: boolean): void {
    if (enabled && !this.watcher) {
      const name = basename(this.deps.file);
      this.watcher = watch(dirname(this.deps.file), (_event, filename) => {
        if (filename !== name) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reloadQuietly("file saved"), WATCH_DEBOUNCE_MS);
      });
      log.info(`watching ${this.deps.file}: saving it reloads the config`);
    } else if (!enabled && this.watcher) {
      this.close();
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
  }
}
