/**
 * The handler table a daemon serves with while it is still assembling (see
 * Daemon.startLocked): the socket accepts first, the runtime and every
 * feature are loaded and built just after. A request that arrives in between
 * (ping included) waits for the assembled table and is then answered by its
 * real handler; it never fails for being early, and its answer means the
 * daemon is entirely up. Once assembled, the daemon copies the real
 * handlers over these, so later requests pay nothing.
 */
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import { type Handler, type HandlerTable, type RequestKind, SCOPE_OF } from "../router.ts";

export function waitingHandlers(assembled: Promise<HandlerTable>): HandlerTable {
  const waiting: Partial<Record<RequestKind, Handler<RequestKind>>> = {};
  for (const kind of Object.keys(SCOPE_OF) as RequestKind[]) {
    const wait: Handler<RequestKind> = async (body, ctx) => {
      const table = await assembled;
      const real = table[kind] as Handler<RequestKind> | undefined;
      // Still this function: the assembled daemon has no handler for the kind (the router's own answer).
      if (!real || real === wait)
        throw new WireError(ErrorCode.NotImplemented, `request "${kind}" is not implemented by this daemon yet`);
      return real(body, ctx);
    };
    waiting[kind] = wait;
  }
  return waiting as HandlerTable;
}
