/**
 * The dashboard's entry point (bundled by scripts/build-web.ts into the
 * binary): the page shell — navigation, connection state, pending-approval
 * count — and hash routing between the pages:
 *   #/live (default)   every agent's events as they happen
 *   #/sessions         sessions, search, a new turn with an agent
 *   #/session/ID       one session: conversation, timeline, message box
 *   #/approvals        tool calls waiting for a human
 * Each page is a function that fills a container and returns its cleanup.
 */
import { approvalsPage } from "./approvals.ts";
import { Connection } from "./conn.ts";
import { h } from "./dom.ts";
import { Feed } from "./feed.ts";
import { livePage } from "./live.ts";
import { sessionPage } from "./session.ts";
import { sessionsPage } from "./sessions.ts";

const conn = new Connection();
const feed = new Feed(conn);

const state = h("span", { class: "conn", "data-testid": "conn" }, "connecting…");
const approvalsCount = h("span", { class: "badge", "data-testid": "approvals-count" });
const nav = h(
  "nav",
  {},
  h("a", { href: "#/live", "data-route": "live" }, "Live"),
  h("a", { href: "#/sessions", "data-route": "sessions" }, "Sessions"),
  h("a", { href: "#/approvals", "data-route": "approvals" }, "Approvals ", approvalsCount),
);
const main = h("main", { id: "page" });
document.body.replaceChildren(h("header", {}, h("span", { class: "brand" }, "crabtalk"), nav, state), main);

conn.onState((s) => {
  state.textContent = s === "up" ? "connected" : s === "down" ? "reconnecting…" : "connecting…";
  state.dataset.state = s;
});
const badge = () => {
  approvalsCount.textContent = feed.pending.size ? String(feed.pending.size) : "";
};
feed.onChange(badge);

let leave: () => void = () => {};
function route(): void {
  leave();
  main.replaceChildren();
  const hash = location.hash.replace(/^#\/?/, "");
  const [name = "live", arg] = hash.split("/");
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("on", a.dataset.route === name);
  main.dataset.route = name;
  if (name === "session" && arg && /^\d+$/.test(arg)) leave = sessionPage(main, conn, feed, Number(arg));
  else if (name === "sessions") leave = sessionsPage(main, conn);
  else if (name === "approvals") leave = approvalsPage(main, conn, feed);
  else leave = livePage(main, feed);
}
window.addEventListener("hashchange", route);
route();
badge();
