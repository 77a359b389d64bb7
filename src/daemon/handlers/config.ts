/**
 * Config over the wire: GetConfig (the file, every literal secret shown as
 * "***"), SetConfigMsg (a whole text: "***" keeps the current secret; then
 * validated, written atomically with a .bak, and applied as a reload) and
 * ReloadMsg. Errors answer 400 with file, line, key and fix.
 */
import { parseToml } from "../../config/load.ts";
import { redactConfigText, restoreSecrets } from "../../config/secrets.ts";
import type { Reloader, ReloadReport } from "../reload.ts";
import type { HandlerTable, Reply } from "../router.ts";

export interface ConfigSource {
  file: string;
  readText(): string;
  reloader: Reloader;
}

function reloaded(report: ReloadReport, trigger: string): Reply {
  return { reloaded: { changes: report.changes, needsRestart: report.needsRestart, trigger } };
}

export function configHandlers(source: ConfigSource): HandlerTable {
  return {
    getConfig: () => {
      const text = source.readText();
      return { config: { config: redactConfigText(text, parseToml(text, source.file)) } };
    },
    setConfig: async (req) => {
      const current = parseToml(source.readText(), source.file);
      const text = restoreSecrets(req.config, parseToml(req.config, source.file), current, source.file);
      return reloaded(await source.reloader.replace(text, "SetConfigMsg"), "SetConfigMsg");
    },
    reload: async () => reloaded(await source.reloader.reload("ReloadMsg"), "ReloadMsg"),
  };
}
