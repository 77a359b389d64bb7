/** The permission engine's precedence: grants, per-agent tables, global table, wildcard, default. */
import { describe, expect, test } from "bun:test";
import { createPermissionEngine } from "../../src/agent/permissions.ts";

const all = ["bash", "read", "write", "edit"];

describe("permission engine", () => {
  test("nothing configured: granted tools are allowed, others denied", () => {
    const p = createPermissionEngine({ global: {}, agents: {} }, { crab: ["read"] });
    expect(p.decide("crab", "read")).toBe("allow");
    expect(p.decide("crab", "bash")).toBe("deny");
    expect(p.explain("crab", "bash").reason).toBe("tool bash is not granted to agent crab");
    expect(p.decide("ghost", "read")).toBe("deny");
  });

  test("a grant is required even when a rule allows", () => {
    const p = createPermissionEngine(
      { global: { bash: "allow" }, agents: { crab: { bash: "allow" } } },
      { crab: ["read"] },
    );
    expect(p.decide("crab", "bash")).toBe("deny");
  });

  test("per-agent tables override the global one, in both directions", () => {
    const p = createPermissionEngine(
      { global: { bash: "ask", write: "deny" }, agents: { researcher: { bash: "deny" }, ops: { write: "allow" } } },
      { crab: all, researcher: all, ops: all },
    );
    expect(p.decide("crab", "bash")).toBe("ask");
    expect(p.decide("researcher", "bash")).toBe("deny");
    expect(p.decide("researcher", "write")).toBe("deny"); // falls through to global
    expect(p.decide("ops", "write")).toBe("allow");
    expect(p.decide("ops", "bash")).toBe("ask");
  });

  test("within one table deny wins over a more specific rule; otherwise the exact name beats the wildcard", () => {
    const p = createPermissionEngine(
      {
        global: { "*": "deny", read: "allow" },
        agents: { crab: { "*": "ask", read: "allow" }, bot: { "*": "allow", bash: "deny" } },
      },
      { crab: all, bot: all, other: all },
    );
    expect(p.decide("other", "read")).toBe("deny");
    expect(p.explain("other", "read").reason).toContain('deny wins over read = "allow"');
    expect(p.decide("crab", "read")).toBe("allow");
    expect(p.decide("crab", "bash")).toBe("ask");
    expect(p.decide("bot", "bash")).toBe("deny");
    expect(p.decide("bot", "edit")).toBe("allow");
  });
});
