/**
 * The services requests of the client protocol: status of every service,
 * queries and schemas that reach an extension, its config table, and a
 * restart. Translation only: the work is src/ext/supervisor.ts's.
 */
import { redactSecretValues } from "../../config/secrets.ts";
import { ServiceError, ServiceTimeout, ServiceUnavailable } from "../../ext/client.ts";
import { type Services, UnknownService } from "../../ext/supervisor.ts";
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { HandlerTable } from "../router.ts";

function wire(err: unknown): unknown {
  if (err instanceof UnknownService) return new WireError(ErrorCode.NotFound, err.message);
  if (err instanceof ServiceUnavailable) return new WireError(ErrorCode.ShuttingDown, err.message);
  if (err instanceof ServiceTimeout) return new WireError(ErrorCode.Timeout, err.message);
  if (err instanceof ServiceError) return new WireError(ErrorCode.ProviderFailed, `service error: ${err.message}`);
  if (err instanceof TypeError) return new WireError(ErrorCode.BadRequest, err.message);
  return err;
}

async function translated<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw wire(err);
  }
}

/** A service's config as a client may see it: secret-named values (tokens, keys, anything under env) as "***". */
function shownConfig(json: string): string {
  if (!json) return json;
  try {
    return JSON.stringify(redactSecretValues(JSON.parse(json)));
  } catch {
    return "";
  }
}

export function serviceHandlers(services: Services): HandlerTable {
  return {
    getServices: () => ({
      serviceList: {
        services: services.list().map((s) => ({
          name: s.name,
          kind: s.kind,
          status: s.state,
          capabilities: s.capabilities,
          hasConfig: s.hasConfig,
          pid: s.pid,
          restarts: s.restarts,
          uptimeMs: s.uptimeMs,
          tools: s.tools,
          lastError: s.lastError,
          droppedEvents: s.droppedEvents,
          lastExitCode: s.lastExitCode,
          config: shownConfig(s.config),
        })),
      },
    }),
    serviceQuery: (req, ctx) =>
      translated(async () => ({
        serviceQueryResult: { result: await services.query(req.service, req.query, ctx.signal) },
      })),
    getServiceSchema: (req, ctx) =>
      translated(async () => ({
        serviceSchema: { service: req.service, schema: await services.schema(req.service, ctx.signal) },
      })),
    getAllSchemas: (_req, ctx) =>
      translated(async () => ({ allSchemas: { schemas: await services.allSchemas(ctx.signal) } })),
    setServiceConfig: (req) =>
      translated(async () => {
        const { applied } = await services.setConfig(req.service, req.config);
        return {
          ack: {
            message: applied
              ? `${req.service}: config written and applied`
              : `${req.service}: config written; it applies when the service next starts`,
          },
        };
      }),
    restartService: (req) =>
      translated(async () => {
        services.host(req.service);
        void services.restart(req.service);
        return { ack: { message: `${req.service}: restarting` } };
      }),
  };
}
