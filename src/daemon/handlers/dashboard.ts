/**
 * The dashboard's requests: DashboardLoginMsg (a one-time login link for the
 * owner) and PendingApprovalsMsg (prompts waiting across sessions, so a page
 * opened after a prompt still shows it). See daemon/http/ws-bridge.ts.
 */
import { ErrorCode, WireError } from "../../protocol/errors.ts";
import type { SessionRuntime } from "../../session/runtime.ts";
import type { HandlerTable } from "../router.ts";

export interface LoginSource {
  loginLink(): { url: string; token: string; expiresMs: number };
}

export function dashboardHandlers(runtime: SessionRuntime, dashboard: () => LoginSource | null): HandlerTable {
  return {
    dashboardLogin: (_req, ctx) => {
      if (ctx.principal.kind !== "owner")
        throw new WireError(
          ErrorCode.Forbidden,
          "a dashboard login link acts as the daemon's owner, so only the owner may ask for one (over the Unix socket); with a token, open the dashboard's /login page and paste the token",
        );
      const server = dashboard();
      if (!server)
        throw new WireError(
          ErrorCode.Conflict,
          'the dashboard is off: add http = "127.0.0.1:6689" under [daemon] in crabtalk.toml and restart the daemon',
        );
      const link = server.loginLink();
      return { dashboardLogin: { url: link.url, token: link.token, expiresMs: link.expiresMs } };
    },

    pendingApprovals: (req) => ({
      pendingApprovals: {
        approvals: runtime.approvals
          .list()
          .filter((p) => !req.agent || p.agent === req.agent)
          .map((p) => ({
            session: p.session,
            agent: p.agent,
            callId: p.callId,
            tool: p.tool,
            arguments: p.arguments,
            askedAtMs: p.askedAtMs,
            timeoutMs: p.timeoutMs,
          })),
      },
    }),
  };
}
