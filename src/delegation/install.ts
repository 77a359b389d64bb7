/**
 * Delegation in the daemon: the task table, the delegate/tasks/collect
 * tools under source "delegation" (granted to agents with members, see
 * daemon/assemble.ts), and an observer that cancels the tasks of a turn
 * that was cancelled after it started them in the background.
 */
import { isKind } from "../session/events.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { TaskManager } from "./tasks.ts";
import { delegationTools } from "./tools.ts";

export const DELEGATION_SOURCE = { kind: "delegation", name: "delegation" } as const;

export function installDelegation(runtime: SessionRuntime): TaskManager {
  const manager = new TaskManager(runtime);
  runtime.registry.setSource(DELEGATION_SOURCE, delegationTools(runtime, manager));
  runtime.hooks.add({
    name: "delegation",
    observe: (e) => {
      if (isKind(e, "end") && e.body.data.stopReason === "aborted")
        manager.killChildrenOf(e.session, "cancelled with its delegating turn");
    },
  });
  return manager;
}
