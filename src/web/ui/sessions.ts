/**
 * The Sessions page: every session, newest activity first, with agent,
 * title, tokens and last activity (the Sessions request, paged by offset:
 * the next page is asked as the list is scrolled near its end, until the
 * daemon's total is reached; virtualized, so thousands of rows cost what a
 * screenful does), a search box over the daemon's BM25 index
 * (SearchSessions: one row per session hit, with the matching snippet), and
 * a box to start a turn with an agent (the page then opens the new session,
 * whose answer streams in there).
 *
 * Paging by offset over a list ordered by activity: a session that becomes
 * active moves to the top and shifts the rest down by one, so a later page
 * can repeat a row already shown; rows are deduplicated by id.
 */
import type { SessionInfo } from "../../protocol/gen/crabtalk.ts";
import type { Connection } from "./conn.ts";
import { formatCount, formatWhen, h } from "./dom.ts";
import { startTurn } from "./compose.ts";
import { VirtualList } from "./vlist.ts";

const PAGE = 200;
/** Ask for the next page when the end of the loaded rows is this close (px) below the viewport. */
const NEAR_END_PX = 600;

interface Row {
  info: SessionInfo;
  snippet?: string;
}

export function sessionsPage(root: HTMLElement, conn: Connection): () => void {
  let alive = true;
  const search = h("input", {
    type: "search",
    placeholder: "Search messages (BM25)…",
    "aria-label": "search sessions",
    "data-testid": "search",
  });
  const table = h("div", { class: "table list-host", "data-testid": "sessions" });
  const empty = h("p", { class: "empty hidden" });
  const count = h("span", { class: "stat", "data-testid": "sessions-count" });
  const agents = h("select", { "aria-label": "agent for a new turn", "data-testid": "new-agent" });
  const text = h("textarea", { rows: 2, placeholder: "Start a turn with this agent…", "data-testid": "new-text" });
  const send = h("button", { type: "submit" }, "Send");
  const problem = h("div", { class: "problem" });
  const form = h("form", { class: "compose", "data-testid": "new-turn" }, agents, text, send, problem);
  root.append(h("h2", {}, "Sessions"), form, h("div", { class: "toolbar" }, search, count), empty, table);

  const rows = new VirtualList<Row>(table, {
    estimate: 33,
    render: ({ info: s, snippet }) =>
      h(
        "a",
        { class: "session-row", href: `#/session/${s.id}`, "data-session": s.id },
        h("span", { class: "id" }, `#${s.id}`),
        h("span", { class: "agent" }, s.agent),
        h("span", { class: "title" }, snippet ?? (s.title || "(untitled)")),
        h("span", { class: "tokens" }, snippet === undefined ? `${formatCount(s.totalTokens)} tok` : ""),
        h("span", { class: "when" }, s.running ? "running" : formatWhen(s.lastActiveMs)),
      ),
  });
  const show = (items: Row[], none: string) => {
    rows.setItems(items);
    empty.textContent = none;
    empty.classList.toggle("hidden", items.length > 0);
  };

  /** The browsing list (no search): rows loaded so far, their ids, the daemon's total. */
  let browsing: Row[] = [];
  let ids = new Set<number>();
  let total = 0;
  let offset = 0;
  let loading: Promise<void> | null = null;
  let generation = 0;
  const searching = () => search.value.trim() !== "";
  const more = () => !searching() && offset < total;

  const loadPage = async (gen: number) => {
    const reply = await conn.request({ sessions: { offset, limit: PAGE } });
    if (!alive || gen !== generation) return;
    const page = reply.sessions?.sessions ?? [];
    total = Number(reply.sessions?.total ?? 0);
    offset += page.length;
    if (page.length === 0) offset = total; // the list shrank under us: nothing more to ask
    const fresh = page.filter((s) => !ids.has(s.id));
    for (const s of fresh) ids.add(s.id);
    browsing = browsing.concat(fresh.map((info) => ({ info })));
    count.textContent = `${browsing.length} of ${total}`;
    table.dataset.complete = offset >= total ? "1" : "";
    if (!searching()) show(browsing, "No sessions yet.");
  };
  /** Asks for the next page (one request at a time); when it is in, checks whether the view wants yet another. */
  const fetchMore = (gen: number): Promise<void> => {
    const p: Promise<void> = loadPage(gen)
      .catch((err) => {
        problem.textContent = err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        if (loading === p) loading = null;
        if (gen === generation) requestAnimationFrame(maybeMore);
      });
    loading = p;
    return p;
  };
  /** Loads the next page when the viewport is near the end of the loaded rows (or they do not fill it). */
  const maybeMore = () => {
    if (!alive || loading || !more()) return;
    const s = rows.scroller;
    if (s.scrollHeight - s.scrollTop - s.clientHeight > NEAR_END_PX) return;
    void fetchMore(generation);
  };
  rows.scroller.addEventListener("scroll", maybeMore, { passive: true });

  const list = async () => {
    generation++;
    [browsing, ids, total, offset] = [[], new Set(), 0, 0];
    table.dataset.query = "";
    rows.scroller.scrollTop = 0;
    await fetchMore(generation);
  };
  const find = async (query: string) => {
    const reply = await conn.request({ searchSessions: { query, limit: 50 } });
    if (!alive || search.value.trim() !== query) return;
    const hits = reply.searchResults?.hits ?? [];
    const seen = new Set<number>();
    const found = hits
      .filter((hit) => !seen.has(hit.session) && seen.add(hit.session))
      .map(
        (hit): Row => ({
          info: {
            id: hit.session,
            agent: hit.agent,
            title: "",
            totalTokens: 0,
            lastActiveMs: hit.timestampMs,
            running: false,
          } as SessionInfo,
          snippet: hit.snippet,
        }),
      );
    rows.scroller.scrollTop = 0;
    show(found, `Nothing matches “${query}”.`);
    count.textContent = `${found.length} found`;
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
