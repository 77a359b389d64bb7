/**
 * Approvals: the Approvals page (the tool calls waiting for a human, across
 * sessions: the Feed's pending list, kept current by approval events and the
 * results that settle them) and the Approve / Deny controls it shares with
 * the Session page, which shows a pending call's controls inline at the call
 * (conversation.ts). An answer is ApproveMsg with the call id and session;
 * one the daemon refuses (already answered, timed out) is shown next to the
 * buttons, which are enabled again.
 */
import type { Connection } from "./conn.ts";
import { formatTime, h, prettyJson } from "./dom.ts";
import type { Feed, Pending } from "./feed.ts";

/** Approve and Deny for one pending call, with the line where a refused answer is explained. */
export function approvalControls(conn: Connection, feed: Feed, p: Pending): HTMLElement[] {
  const problem = h("div", { class: "problem", role: "status" });
  const approve = h("button", { type: "button", class: "approve" }, "Approve");
  const deny = h("button", { type: "button", class: "deny" }, "Deny");
  const answer = async (response: "allow" | "deny") => {
    approve.disabled = deny.disabled = true;
    problem.textContent = "";
    try {
      await conn.request({ approve: { callId: p.callId, session: p.session, response } });
      feed.answered(p.callId);
    } catch (err) {
      problem.textContent = err instanceof Error ? err.message : String(err);
      approve.disabled = deny.disabled = false;
    }
  };
  approve.addEventListener("click", () => void answer("allow"));
  deny.addEventListener("click", () => void answer("deny"));
  return [problem, h("div", { class: "actions" }, approve, deny)];
}

export function approvalsPage(root: HTMLElement, conn: Connection, feed: Feed): () => void {
  const list = h("div", { class: "approvals", "data-testid": "approvals" });
  root.append(h("h2", {}, "Approvals"), list);
  const card = (p: Pending) =>
    h(
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
      ...approvalControls(conn, feed, p),
    );
  const draw = () => {
    const pending = [...feed.pending.values()];
    list.replaceChildren(
      ...(pending.length ? pending.map(card) : [h("p", { class: "empty" }, "Nothing waits for approval.")]),
    );
  };
  draw();
  return feed.onChange(draw);
}
