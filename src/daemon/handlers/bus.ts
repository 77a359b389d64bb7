/**
 * The event-bus requests of the client protocol: PublishEvent (answered once
 * the event is durable), the bus status (subscriptions, queue, dead letters)
 * and subscribe/unsubscribe. Translation only: the work is daemon/bus.ts's.
 */
import { entryToSubscription } from "../../config/events.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { BusService } from "../bus.ts";
import type { HandlerTable } from "../router.ts";

const SOURCE = /^[A-Za-z0-9][A-Za-z0-9:._/@-]{0,199}$/;

export function busHandlers(service: BusService): HandlerTable {
  return {
    publishEvent: (req) => {
      if (!SOURCE.test(req.source))
        throw new WireError(
          ErrorCode.BadRequest,
          `"${req.source}" is not an event source: use letters, digits and : . _ / @ - (e.g. "deploy:web:done"), no globs`,
        );
      const id = service.bus.publish(req.source, req.payload, undefined, true);
      return { ack: { message: `published ${req.source} (event ${id})` } };
    },
    busStatus: () => ({
      busStatus: {
        subscriptions: service.subscriptions(),
        queued: service.bus.queued,
        errors: service.errors(),
        deadLetters: service.bus.deadLetters().map((d) => ({
          event: {
            id: d.event.id,
            source: d.event.source,
            payload: d.event.payload,
            hops: d.event.hops,
            chain: d.event.chain,
          },
          targetAgent: d.targetAgent,
          reason: d.reason,
          atMs: d.at,
          attempts: d.attempts,
        })),
      },
    }),
    subscribeBus: (req) => {
      const s = req.subscription;
      const spec = entryToSubscription({
        source: s?.source ?? "",
        target_agent: s?.targetAgent ?? "",
        ...(s?.message ? { message: s.message } : {}),
        ...(s?.once ? { once: true } : {}),
      });
      if (typeof spec === "string") throw new WireError(ErrorCode.BadRequest, spec);
      const refused = service.subscribe(spec);
      if (refused) throw new WireError(refused.includes("exists") ? ErrorCode.Conflict : ErrorCode.BadRequest, refused);
      return { ack: { message: `subscribed ${spec.targetAgent} to ${spec.source}` } };
    },
    unsubscribeBus: (req) => {
      const n = service.removeMatching(req.source, req.targetAgent);
      if (n === 0)
        throw new WireError(
          ErrorCode.NotFound,
          `no subscription of ${req.source}${req.targetAgent ? ` -> ${req.targetAgent}` : ""}; see crabtalk subscriptions`,
        );
      return { ack: { message: `removed ${n} subscription(s) of ${req.source}` } };
    },
  };
}
