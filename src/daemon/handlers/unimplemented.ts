/**
 * Requests of the original protocol whose features arrive in later work
 * (hub packages, downloads): each
 * answers ErrorMsg 501 naming the feature, so a client can tell "not yet"
 * from "broken".
 */
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { HandlerTable, RequestKind } from "../router.ts";

const LATER: Partial<Record<RequestKind, string>> = {
  hub: "hub packages (install/uninstall)",
  downloads: "downloads",
  subscribeDownloads: "downloads",
};

export function unimplementedHandlers(): HandlerTable {
  const table: Record<string, () => never> = {};
  for (const [kind, feature] of Object.entries(LATER)) {
    table[kind] = () => {
      throw new WireError(
        ErrorCode.NotImplemented,
        `${feature} is not implemented in this daemon yet (request "${kind}")`,
      );
    };
  }
  return table as HandlerTable;
}
