/**
 * The Sessions page: every session, newest activity first, with agent,
 * title, tokens and last activity (the Sessions request, paged), a search
 * box over the daemon's BM25 index (SearchSessions: one row per session hit,
 * with the matching snippet), and a box to start a turn with an agent (the
 * page then opens the new session, whose answer streams in there).
 */
import type { SessionInfo } from "../../protocol/gen/crabtalk.ts";
import type { Connection } from "./conn.ts";
import { formatCount, formatWhen, h } from "./dom.ts";
import { startTurn } from "./compose.ts";

const PAGE = 200;

export function sessionsPage(root: HTMLElement, conn: Connection): () => void {
  let alive = true;
  const search = h("input", {
    type: "search",
    placeholder: "Search messages (BM25)…",
    "aria-label": "search sessions",
    "data-testid": "search",
  });
  const table = h("div", { class: "table", "data-testid": "sessions" });
  const agents = h("select", { "aria-label": "agent for a new turn", "data-testid": "new-agent" });
  const text = h("textarea", { rows: 2, placeholder: "Start a turn with this agent…", "data-testid": "new-text" });
  const send = h("button", { type: "submit" }, "Send");
  const problem = h("div", { class: "problem" });
  const form = h("form", { class: "compose", "data-testid": "new-turn" }, agents, text, send, problem);
  root.append(h("h2", {}, "Sessions"), form, h("div", { class: "toolbar" }, search), table);

  const row = (s: SessionInfo, snippet?: string) =>
    h(
      "a",
      { class: "session-row", href: `#/session/${s.id}`, "data-session": s.id },
      h("span", { class: "id" }, `#${s.id}`),
      h("span", { class: "agent" }, s.agent),
      h("span", { class: "title" }, snippet ?? (s.title || "(untitled)")),
      h("span", { class: "tokens" }, snippet === undefined ? `${formatCount(s.totalTokens)} tok` : ""),
      h("span", { class: "when" }, s.running ? "running" : formatWhen(s.lastActiveMs)),
    );

  const list = async () => {
    const reply = await conn.request({ sessions: { limit: PAGE } });
    if (!alive) return;
    const sessions = reply.sessions?.sessions ?? [];
    table.replaceChildren(
      ...(sessions.length ? sessions.map((s) => row(s)) : [h("p", { class: "empty" }, "No sessions yet.")]),
    );
    table.dataset.query = "";
  };
  const find = async (query: string) => {
    const reply = await conn.request({ searchSessions: { query, limit: 50 } });
    if (!alive || search.value.trim() !== query) return;
    const hits = reply.searchResults?.hits ?? [];
    const seen = new Set<number>();
    const rows = hits
      .filter((hit) => !seen.has(hit.session) && seen.add(hit.session))
      .map((hit) =>
        row(
          {
            id: hit.session,
            agent: hit.agent,
            title: "",
            totalTokens: 0,
            lastActiveMs: hit.timestampMs,
            running: false,
          } as SessionInfo,
          hit.snippet,
        ),
      );
    table.replaceChildren(...(rows.length ? rows : [h("p", { class: "empty" }, `Nothing matches “${query}”.`)]));
    table.dataset.query = query; // what the rows answer (tests wait on it)
  };
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      const q = search.value.trim();
      void (q ? find(q) : list()).catch((err) => (problem.textContent = String(err)));
    }, 150);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = text.value.trim();
    if (!content || !agents.value) return;
    problem.textContent = "";
    send.disabled = true;
    void startTurn(conn, { agent: agents.value, content })
      .then((session) => {
        location.hash = `#/session/${session}`;
      })
      .catch((err) => (problem.textContent = err instanceof Error ? err.message : String(err)))
      .finally(() => (send.disabled = false));
  });
  void conn
    .request({ status: {} })
    .then((reply) => {
      const names = (reply.status?.agents ?? []).map((a) => a.agent);
      agents.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
    })
    .catch(() => {});
  void list().catch((err) => (problem.textContent = String(err)));
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
