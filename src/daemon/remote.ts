/**
 * Remote access wiring for the daemon: the token gate, the start-up rule for
 * exposed TCP, the per-connection access given to each router, and the
 * sweep that closes connections whose token was revoked or expired.
 */
import type { DaemonSettings } from "../config/daemon.ts";
import { checkHttpExposure, checkTcpExposure } from "../config/daemon.ts";
import { tokensFileIn } from "../config/tokens.ts";
import type { FramedConnection } from "../transport/socket.ts";
import { logger } from "../util/log.ts";
import { Gate, loopbackListener, type Principal } from "./auth.ts";
import type { SessionAgent } from "./agent-filter.ts";
import type { ConnectionAccess, ConnectionRouter } from "./router.ts";
import { StartupError } from "./startup-error.ts";
import { TurnOwners } from "./own-turns.ts";

const log = logger("auth");

/** How often the token store is checked for changes (and expiries) with nothing else asking. */
const SWEEP_MS = 250;

/**
 * How long a connection that must authenticate may stay without doing so:
 * without a deadline, silent connections would hold the daemon's connection
 * slots (1,024) for anyone who can reach the port.
 */
export const AUTH_DEADLINE_MS = 10_000;

export class RemoteAccess {
  readonly gate: Gate;
  private readonly turnOwners = new TurnOwners();
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(
    settings: DaemonSettings,
    home: string,
    private readonly sessionAgent: SessionAgent,
  ) {
    const file = settings.tokensFile ?? tokensFileIn(home);
    this.gate = new Gate(file, {
      loopbackListener: settings.tcp ? loopbackListener(settings.tcp.host) : true,
      loopbackTrusted: settings.loopbackTrusted,
    });
    const refusal =
      checkTcpExposure(settings.tcp, this.gate.tokenCount, file) ??
      checkHttpExposure(settings.http, this.gate.tokenCount, file);
    if (refusal) throw new StartupError(`${refusal.problem}. Fix: ${refusal.fix}`);
  }

  /** Whether a TCP connection must authenticate, or why it is refused now (banned address). */
  onTcpOpen(conn: FramedConnection): { requiresToken: boolean; banned: boolean } {
    const address = conn.tcp?.remoteAddress ?? "";
    this.gate.refresh(); // a token created a moment ago already decides whether this connection must authenticate
    return { requiresToken: this.gate.requiresToken(), banned: this.gate.isBanned(address) };
  }

  accessFor(conn: FramedConnection, requiresToken: boolean): ConnectionAccess {
    const address = conn.tcp?.remoteAddress ?? "unix";
    return {
      requiresToken,
      authenticate: (token) => this.gate.authenticate(address, token),
      stillValid: (principal) => {
        this.gate.refresh();
        return this.gate.stillValid(principal);
      },
      sessionAgent: this.sessionAgent,
      turnOwners: this.turnOwners,
    };
  }

  /** The access of a connection authenticated before its first frame (the dashboard's WebSocket, by cookie or bearer). */
  accessAs(principal: Principal, address: string, clientName: string): ConnectionAccess {
    return {
      requiresToken: false,
      principal,
      clientName,
      authenticate: (token) => this.gate.authenticate(address, token),
      stillValid: (p) => {
        this.gate.refresh();
        return this.gate.stillValid(p);
      },
      sessionAgent: this.sessionAgent,
      turnOwners: this.turnOwners,
    };
  }

  /** Starts closing connections whose token is revoked or expired, within SWEEP_MS of the change. */
  startSweeping(routers: () => Iterable<ConnectionRouter>): void {
    this.sweeper = setInterval(() => {
      // Nothing to sweep without a token connection (the usual local daemon): no file check either.
      const withTokens = [...routers()].filter((r) => r.tokenPrincipal);
      if (withTokens.length === 0) return;
      this.gate.refresh();
      for (const router of withTokens) {
        const principal = router.tokenPrincipal;
        if (principal && !this.gate.stillValid(principal)) {
          log.info(
            `closing a connection of token "${principal.kind === "token" ? principal.name : ""}": revoked or expired`,
          );
          router.refuse("this connection's token was revoked or has expired; the connection is closed");
        }
      }
    }, SWEEP_MS);
    this.sweeper.unref?.();
  }

  /** Closes the router's connection with 401 if it has not authenticated within AUTH_DEADLINE_MS. */
  enforceDeadline(conn: FramedConnection, router: ConnectionRouter): void {
    const timer = setTimeout(() => {
      if (router.authenticated || conn.isClosed) return;
      log.info(`${conn.peer} did not authenticate within ${AUTH_DEADLINE_MS} ms; closing`);
      router.refuse(`no Auth within ${AUTH_DEADLINE_MS / 1000} s; send Auth{token} as the first frame`);
    }, AUTH_DEADLINE_MS);
    timer.unref?.();
    void conn.closed.then(() => clearTimeout(timer));
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  status(): { authFailures: number; bannedAddresses: string[]; tokens: number } {
    this.gate.refresh();
    return { authFailures: this.gate.failures, bannedAddresses: this.gate.banned(), tokens: this.gate.tokenCount };
  }
}
