/**
 * The Approvals page: the tool calls waiting for a human, across sessions
 * (the Feed: the daemon's pending list, kept current by approval events and
 * the results that settle them), each with its arguments and Approve / Deny
 * (ApproveMsg with the call id and session). An answer the daemon refuses
 * (already answered, timed out) is shown on the row.
 */
import type { Connection } from "./conn.ts";
import { formatTime, h, prettyJson } from "./dom.ts";
import type { Feed, Pending } from "./feed.ts";

export function approvalsPage(root: HTMLElement, conn: Connection, feed: Feed): () => void {
  const list = h("div", { class: "approvals", "data-testid": "approvals" });
  root.append(h("h2", {}, "Approvals"), list);
  const answer = async (p: Pending, response: "allow" | "deny", row: HTMLElement) => {
    for (const b of row.querySelectorAll("button")) b.disabled = true;
    try {
      await conn.request({ approve: { callId: p.callId, session: p.session, response } });
      feed.answered(p.callId);
    } catch (err) {
      row.querySelector(".problem")!.textContent = err instanceof Error ? err.message : String(err);
      for (const b of row.querySelectorAll("button")) b.disabled = false;
    }
  };
  const card = (p: Pending) => {
    const row = h(
      "div",
      { class: "approval", "data-call": p.callId, "data-session": p.session },
      h(
        "div",
        { class: "approval-head" },
        h("strong", {}, p.tool),
        " · ",
        h("a", { href: `#/session/${p.session}` }, `${p.agent} #${p.session}`),
        h("span", { class: "time" }, ` asked ${formatTime(p.askedAtMs)}`),
      ),
      h("pre", {}, prettyJson(p.arguments)),
      h("div", { class: "problem" }),
    );
    row.append(
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "approve", onclick: () => void answer(p, "allow", row) }, "Approve"),
        h("button", { type: "button", class: "deny", onclick: () => void answer(p, "deny", row) }, "Deny"),
      ),
    );
    return row;
  };
  const draw = () => {
    const pending = [...feed.pending.values()];
    list.replaceChildren(
      ...(pending.length ? pending.map(card) : [h("p", { class: "empty" }, "Nothing waits for approval.")]),
    );
  };
  draw();
  return feed.onChange(draw);
}
