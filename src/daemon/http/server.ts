/**
 * The web dashboard's HTTP server, inside the daemon (Bun.serve), when
 * `[daemon] http = "HOST:PORT"` is set: the built-in page (src/web/), the
 * login, and the WebSocket bridge (ws-bridge.ts) to the daemon's router.
 *
 * Routes: GET /login?token=T (one-time link: sets the session cookie and
 * redirects to /), GET /login (the form), POST /login (form field `token`: a
 * remote token), POST /logout, GET /ws (the bridge), GET anything else (the
 * page's files; "/" without a session redirects to /login).
 *
 * Security model: every request must name this dashboard in Host (guard.ts,
 * DNS rebinding); every POST and the WebSocket upgrade must come from its own
 * Origin (CSRF, cross-site WebSockets); everything but /login needs the
 * session cookie (HttpOnly, SameSite=Strict, Secure over TLS) or
 * `Authorization: Bearer <remote token>`. The bound port goes to
 * $CRABTALK_HOME/crabtalk.http (useful with port 0).
 */
import { unlinkSync } from "node:fs";
import type { Server } from "bun";
import type { DaemonSettings } from "../../config/daemon.ts";
import { pathsFor } from "../../config/paths.ts";
import { hashToken } from "../../config/tokens.ts";
import { webAssets } from "../../web/assets.ts";
import { logger } from "../../util/log.ts";
import { wireErrorOf } from "../errors.ts";
import type { Gate, Principal } from "../auth.ts";
import { StartupError } from "../startup-error.ts";
import { checkHost, checkOrigin, isSafeMethod, securityHeaders, siteUrl, type Site } from "./guard.ts";
import { DashboardLogins, SESSION_TTL_MS, sessionsFileIn } from "./login.ts";
import { loginPage, problemPage } from "./pages.ts";
import { StaticFiles } from "./static.ts";
import { bridgeHandlers, type BridgeData, type BridgeDeps } from "./ws-bridge.ts";
import { writeFileAtomicSync } from "../../util/atomic-file.ts";

const log = logger("http");

/** Form posts are a token (under 100 bytes); anything far larger is not a login (refused here, 413 with our headers). */
const MAX_BODY_BYTES = 64 * 1024;
/** Bun's own limit, a backstop for bodies without Content-Length: its bare 413 carries none of our headers. */
const BUN_MAX_BODY_BYTES = 1024 * 1024;

export interface DashboardDeps extends Omit<BridgeDeps, "stallTimeoutMs"> {
  settings: DaemonSettings;
  home: string;
  gate: Gate;
}

type Auth = { principal: Principal; bearer: boolean; cookie: string | null };

export class DashboardServer {
  private constructor(
    private readonly server: Server<BridgeData>,
    readonly site: Site,
    private readonly logins: DashboardLogins,
    private readonly portFile: string,
  ) {}

  /** Starts the server, or returns null when `[daemon] http` is off. Throws StartupError when it cannot listen. */
  static async start(deps: DashboardDeps): Promise<DashboardServer | null> {
    const bind = deps.settings.http;
    if (!bind) return null;
    let files: StaticFiles;
    try {
      files = new StaticFiles(await webAssets());
    } catch (err) {
      throw new StartupError(
        `the dashboard's built-in files did not load: ${(err as Error).message}. Fix: remove [daemon] http to run without the dashboard, and report this (the binary is broken)`,
      );
    }
    const logins = new DashboardLogins(sessionsFileIn(deps.home));
    const tls = deps.settings.tls;
    const site: Site = { host: bind.host, port: bind.port, tls: tls !== null };
    const handlers = new RequestHandlers(site, files, logins, deps.gate);
    const listen = (port: number): Server<BridgeData> =>
      Bun.serve<BridgeData>({
        hostname: bind.host,
        port,
        maxRequestBodySize: BUN_MAX_BODY_BYTES,
        ...(tls ? { tls: { cert: Bun.file(tls.cert), key: Bun.file(tls.key) } } : {}),
        fetch: (req, server) => handlers.handle(req, server),
        error: (err) => failureResponse(site, err),
        websocket: bridgeHandlers({ ...deps, stallTimeoutMs: deps.settings.clientStallTimeoutMs }),
      });
    let server: Server<BridgeData>;
    try {
      server = listen(bind.port);
    } catch (err) {
      if (!/in use/i.test((err as Error).message) && (err as NodeJS.ErrnoException).code !== "EADDRINUSE")
        throw new StartupError(
          `cannot serve the dashboard on ${bind.host}:${bind.port}: ${(err as Error).message}. Fix: set [daemon] http to an address this machine has (http = "127.0.0.1:6689"), or remove it`,
        );
      server = listen(0);
      log.warn(`dashboard port ${bind.port} is in use; serving on ${bind.host}:${server.port} instead`);
    }
    site.port = server.port ?? bind.port;
    const portFile = pathsFor(deps.home).httpPortFile;
    try {
      writeFileAtomicSync(portFile, `${site.port}\n`);
    } catch (err) {
      void server.stop(true);
      throw new StartupError(
        `cannot write the dashboard port file ${portFile}: ${(err as Error).message}. Fix: move whatever is at that path out of the way`,
      );
    }
    log.info(`dashboard on ${siteUrl(site)} (crabtalk dashboard prints a login link)`);
    return new DashboardServer(server, site, logins, portFile);
  }

  get url(): string {
    return siteUrl(this.site);
  }

  /** A one-time login link for the owner. */
  loginLink(): { url: string; token: string; expiresMs: number } {
    const { token, expiresMs } = this.logins.mintLogin();
    return { url: `${this.url}/login?token=${token}`, token, expiresMs };
  }

  stopAccepting(): void {
    void this.server.stop(false);
  }

  close(): void {
    void this.server.stop(true);
    try {
      unlinkSync(this.portFile);
    } catch {
      // Already gone.
    }
  }
}

class RequestHandlers {
  constructor(
    private readonly site: Site,
    private readonly files: StaticFiles,
    private readonly logins: DashboardLogins,
    private readonly gate: Gate,
  ) {}

  private get cookieName(): string {
    // Cookies ignore ports: two daemons on one host must not overwrite each other's session.
    // Over TLS the __Host- prefix makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
    return `${this.site.tls ? "__Host-" : ""}crabtalk_dash_${this.site.port}`;
  }

  async handle(req: Request, server: Server<BridgeData>): Promise<Response | undefined> {
    const hostHeader = req.headers.get("host");
    const wrongHost = checkHost(this.site, hostHeader);
    if (wrongHost) return this.text(wrongHost.status, "Wrong address", wrongHost.message, securityHeaders(this.site));
    const headers = securityHeaders(this.site, hostHeader!.toLowerCase());
    const length = Number(req.headers.get("content-length") ?? 0);
    if (length > MAX_BODY_BYTES)
      return this.text(
        413,
        "Too large",
        `a ${length}-byte body is not a dashboard request (at most ${MAX_BODY_BYTES} bytes: a login form is a token)`,
        headers,
      );
    const address = server.requestIP(req)?.address ?? "unknown";
    const { pathname, searchParams } = new URL(req.url);
    // The same match as authentication uses: only a well-formed bearer request skips the cookie's Origin rule.
    const bearer = /^Bearer\s+(\S+)$/i.test(req.headers.get("authorization") ?? "");
    const wantsUpgrade = pathname === "/ws";
    if (!isSafeMethod(req.method) || wantsUpgrade) {
      const foreign = checkOrigin(this.site, hostHeader, req.headers.get("origin"), bearer);
      if (foreign) return this.text(foreign.status, "Refused", foreign.message, headers);
    }
    if (pathname === "/login") return this.login(req, searchParams, address, headers);
    if (pathname === "/logout" && req.method === "POST") return this.logout(req, headers);
    if (!isSafeMethod(req.method))
      return this.text(405, "Not allowed", `${req.method} ${pathname} is not served here`, headers);
    let auth: Auth | null;
    try {
      auth = await this.authenticate(req, address);
    } catch (err) {
      const wire = wireErrorOf(err);
      return this.text(wire.code === 429 ? 429 : 401, "Not logged in", wire.message, headers);
    }
    if (wantsUpgrade) {
      if (!auth) return this.text(401, "Not logged in", "log in first (crabtalk dashboard prints a link)", headers);
      const upgraded = server.upgrade(req, { data: { principal: auth.principal, address, conn: null }, headers });
      return upgraded
        ? undefined
        : this.text(
            400,
            "Not a WebSocket",
            "GET /ws is the dashboard's WebSocket: open it with new WebSocket(...)",
            headers,
          );
    }
    const path = StaticFiles.resolve(pathname);
    if (!auth) {
      if (path === "/index.html") return redirect("/login", headers);
      return this.text(401, "Not logged in", "log in first: open /login", headers);
    }
    return (
      this.files.respond(path, req, headers) ??
      this.text(404, "Not found", `${pathname} is not part of the dashboard`, headers)
    );
  }

  /** Who the request acts as: a bearer token (checked with the same brake as TCP), or the session cookie. */
  private async authenticate(req: Request, address: string): Promise<Auth | null> {
    const header = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
    if (header) return { principal: await this.gate.authenticate(address, header[1]!), bearer: true, cookie: null };
    const cookie = cookieValue(req.headers.get("cookie"), this.cookieName);
    if (!cookie) return null;
    const session = this.logins.lookup(cookie);
    if (!session) return null;
    if (session.principal.kind === "owner") return { principal: session.principal, bearer: false, cookie };
    // A token's session lasts while that very token does, with the scope and agents it has now.
    this.gate.refresh();
    const record = this.gate.recordOf(session.principal.name);
    if (!record || record.hash !== session.tokenHash || (record.expiresMs !== null && record.expiresMs <= Date.now())) {
      this.logins.endSession(cookie); // revoked, expired, or created again under the same name
      return null;
    }
    const principal: Principal = {
      kind: "token",
      name: record.name,
      hash: record.hash,
      scope: record.scope,
      agents: record.agents,
    };
    return { principal, bearer: false, cookie };
  }

  private async login(
    req: Request,
    params: URLSearchParams,
    address: string,
    headers: Record<string, string>,
  ): Promise<Response> {
    const noStore = { ...headers, "Cache-Control": "no-store" };
    if (req.method === "GET" || req.method === "HEAD") {
      const token = params.get("token");
      if (token === null) return html(200, loginPage(), noStore);
      if (!this.logins.redeemLogin(token)) {
        log.warn(`refused a dashboard login link from ${address}: already used, expired or unknown`);
        return html(
          401,
          loginPage("This login link was already used or has expired. Run `crabtalk dashboard` again for a new one."),
          noStore,
        );
      }
      log.info(`dashboard login (owner) from ${address}`);
      return this.startSession({ kind: "owner" }, noStore);
    }
    if (req.method !== "POST") return this.text(405, "Not allowed", `${req.method} /login is not served`, headers);
    let token = "";
    try {
      token = String((await req.formData()).get("token") ?? "").trim();
    } catch {
      return html(400, loginPage("The form did not arrive; paste the token and try again."), noStore);
    }
    try {
      const principal = await this.gate.authenticate(address, token);
      if (principal.kind === "token")
        log.info(`dashboard login as token "${principal.name}" (${principal.scope}) from ${address}`);
      return this.startSession(principal, noStore, hashToken(token));
    } catch (err) {
      const wire = wireErrorOf(err);
      return html(wire.code === 429 ? 429 : 401, loginPage(wire.message), noStore);
    }
  }

  private startSession(
    principal: Principal,
    headers: Record<string, string>,
    tokenHash: string | null = null,
  ): Response {
    const { cookie } = this.logins.createSession(principal, tokenHash);
    const secure = this.site.tls ? "; Secure" : "";
    return redirect("/", {
      ...headers,
      "Set-Cookie": `${this.cookieName}=${cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}${secure}`,
    });
  }

  private logout(req: Request, headers: Record<string, string>): Response {
    const cookie = cookieValue(req.headers.get("cookie"), this.cookieName);
    if (cookie) this.logins.endSession(cookie);
    return redirect("/login", {
      ...headers,
      "Set-Cookie": `${this.cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${this.site.tls ? "; Secure" : ""}`,
    });
  }

  private text(status: number, title: string, message: string, headers: Record<string, string>): Response {
    return html(status, problemPage(title, message), { ...headers, "Cache-Control": "no-store" });
  }
}

/** What a request that threw is answered (Bun.serve's error handler): 500, logged, with every security header. */
export function failureResponse(site: Site, err: Error): Response {
  log.error(`dashboard request failed: ${err.stack ?? err.message}`);
  const message = "the dashboard failed to answer this request; the daemon's log has the details";
  return html(500, problemPage("Internal error", message), { ...securityHeaders(site), "Cache-Control": "no-store" });
}

function html(status: number, body: string, headers: Record<string, string>): Response {
  return new Response(body, { status, headers: { ...headers, "Content-Type": "text/html; charset=utf-8" } });
}

function redirect(location: string, headers: Record<string, string>): Response {
  return new Response(null, { status: 303, headers: { ...headers, Location: location } });
}

/** One cookie's value from a Cookie header, or null. */
export function cookieValue(header: string | null, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}
