/**
 * Wires the event bus into the daemon: subscriptions from
 * $CRABTALK_HOME/events.toml (read at start and on reload; bad entries
 * logged, the others work), the durable queue bus-queue.jsonl, the journal
 * bus-journal.jsonl (numbered events clients replay after a cursor), the
 * dead-letter list bus-dead.json, the runtime observer that publishes
 * agent:<name>:done|failed, and cron:<id>:done|failed from the scheduler.
 */
import { join } from "node:path";
import {
  editEventsFile,
  readEventsFile,
  subscriptionToEntry,
  type EventsFile,
  type SubscriptionSpec,
} from "../config/events.ts";
import type { Paths } from "../config/paths.ts";
import { EventBusService } from "../events/bus.ts";
import { BusJournal } from "../events/journal.ts";
import type { SessionRuntime } from "../session/runtime.ts";
import { logger } from "../util/log.ts";
import type { CronService } from "./cron.ts";
import type { ReloadParticipant } from "./reload.ts";

const log = logger("bus");

export class BusService {
  readonly file: string;
  readonly bus: EventBusService;
  private current: EventsFile = { subscriptions: [], errors: [] };
  private readonly removeObserver: () => void;

  constructor(
    paths: Paths,
    private readonly runtime: SessionRuntime,
  ) {
    this.file = join(paths.home, "events.toml");
    this.bus = new EventBusService({
      runtime,
      queueFile: join(paths.home, "bus-queue.jsonl"),
      journal: new BusJournal(join(paths.home, "bus-journal.jsonl")),
      deadFile: join(paths.home, "bus-dead.json"),
      subscriptions: () => this.current.subscriptions,
      onOnce: (sub) => {
        this.removeMatching(sub.source, sub.targetAgent);
        log.info(`subscription ${sub.source} -> ${sub.targetAgent} delivered once; removed from ${this.file}`);
      },
    });
    this.removeObserver = runtime.hooks.add({ name: "event-bus", observe: (e) => this.bus.observe(e) });
  }

  reconcile(): string[] {
    const before = new Set(this.current.subscriptions.map((s) => JSON.stringify(s)));
    const next = readEventsFile(this.file, (s) =>
      this.runtime.agent(s.targetAgent) ? null : `target_agent "${s.targetAgent}" is not configured in crabtalk.toml`,
    );
    for (const e of next.errors) log.error(e);
    const changes: string[] = [];
    for (const s of next.subscriptions)
      if (!before.delete(JSON.stringify(s))) changes.push(`subscription ${s.source} -> ${s.targetAgent}: added`);
    for (const s of before) {
      const spec = JSON.parse(s) as SubscriptionSpec;
      changes.push(`subscription ${spec.source} -> ${spec.targetAgent}: removed`);
    }
    this.current = next;
    return changes;
  }

  subscriptions(): SubscriptionSpec[] {
    return this.current.subscriptions;
  }

  errors(): string[] {
    return this.current.errors;
  }

  /** Adds a subscription to events.toml (atomically) and applies it; returns the reason when refused. */
  subscribe(spec: SubscriptionSpec): string | null {
    if (!this.runtime.agent(spec.targetAgent))
      return `target_agent "${spec.targetAgent}" is not configured in crabtalk.toml`;
    const same = this.current.subscriptions.some((s) => s.source === spec.source && s.targetAgent === spec.targetAgent);
    if (same) return `${spec.source} -> ${spec.targetAgent} exists; unsubscribe it first to change it`;
    editEventsFile(this.file, (entries) => [...entries, subscriptionToEntry(spec)]);
    this.reconcile();
    return null;
  }

  /** Removes the subscriptions of `source` (to `target`, or to every target when empty); returns how many. */
  removeMatching(source: string, target: string): number {
    let removed = 0;
    editEventsFile(this.file, (entries) =>
      entries.filter((e) => {
        const hit = e.source === source && (!target || e.target_agent === target);
        if (hit) removed++;
        return !hit;
      }),
    );
    this.reconcile();
    return removed;
  }

  participant(): ReloadParticipant {
    return { name: "event bus", apply: async () => this.reconcile() };
  }

  close(): void {
    this.removeObserver();
    this.bus.close();
  }
}

/** Starts the bus, delivers what the previous run left queued, and publishes cron results. */
export function startBus(paths: Paths, runtime: SessionRuntime, cron: CronService): BusService {
  const service = new BusService(paths, runtime);
  service.reconcile();
  cron.onEnd = ({ job, record, content }) => {
    const ok = record.status === "ok";
    service.bus.publish(`cron:${job.id}:${ok ? "done" : "failed"}`, ok ? content : (record.error ?? "failed"));
  };
  service.bus.resume();
  return service;
}
