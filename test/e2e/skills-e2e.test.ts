/**
 * Skills against the compiled daemon and a scripted provider: SKILL.md
 * discovery (home first, then skill_dirs; hidden folders skipped; broken
 * frontmatter and duplicates logged), `/name` expansion as the provider
 * sees it, grants refusing the slash form and the `skill` tool, edits on
 * disk seen by the next call, and `save_skill` feeding `crabtalk skills`
 * and `/name`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonError } from "../../src/client/client.ts";
import { FakeProvider, sseReply, type RecordedRequest, type Reply } from "../helpers/fake-provider.ts";
import { openaiSse } from "../helpers/sse-builders.ts";
import { startDaemon, tempHome, type DaemonHandle } from "../helpers/daemon.ts";
import {
  contentText,
  endOf,
  lastUserText,
  messagesOf,
  streamTurn,
  textOf,
  toolResultsOf,
  turnConfig,
  waitFor,
  systemTextOf,
} from "../helpers/turn-kit.ts";
import { runCrabtalk } from "./cli-kit.ts";

let fake: FakeProvider;
let d: DaemonHandle;
let home: string;
let shared: string;

/** "call skill X" calls skill{name:X}; "save skill X" calls save_skill; after a tool, its result is echoed. */
function brain(req: RecordedRequest): Reply {
  const messages = messagesOf(req);
  const last = messages.at(-1);
  if (last?.role === "tool") return sseReply(openaiSse({ text: `tool said: ${contentText(last)}` }));
  const said = lastUserText(req);
  let m = /^call skill (\S*)/.exec(said);
  if (m) return sseReply(openaiSse({ toolCalls: [{ id: `c${req.index}`, name: "skill", args: { name: m[1] } }] }));
  m = /^save skill (\S+)/.exec(said);
  if (m)
    return sseReply(
      openaiSse({
        toolCalls: [
          {
            id: `c${req.index}`,
            name: "save_skill",
            args: { name: m[1], description: "Roll out: carefully, step by step", body: "1. Tag it.\n2. Ship it." },
          },
        ],
      }),
    );
  return sseReply(openaiSse({ text: `echo: ${said.slice(0, 40)}` }));
}

function writeSkill(root: string, folder: string, text: string): string {
  mkdirSync(join(root, folder), { recursive: true });
  const file = join(root, folder, "SKILL.md");
  writeFileSync(file, text);
  return file;
}

const DEPLOY =
  "---\nname: deploy\ndescription: Ship the service to production\nlicense: MIT\n---\n\nRun make deploy, then watch the dashboard.\n";

beforeAll(async () => {
  fake = await FakeProvider.start();
  fake.route(brain);
  home = tempHome("crabtalk-skills-");
  shared = mkdtempSync(join(tmpdir(), "crabtalk-shared-skills-"));
  const skills = join(home, "skills");
  writeSkill(skills, "deploy", DEPLOY);
  writeSkill(
    skills,
    "ops/nested/triage",
    "---\nname: triage\ndescription: Sort incoming bugs\n---\nLabel, then assign.\n",
  );
  writeSkill(skills, ".hidden/secret", "---\nname: secret\ndescription: never found\n---\nno\n");
  writeSkill(skills, "broken", "---\nname: [unclosed\ndescription: x\n---\nbody\n");
  writeSkill(skills, "nameless", "---\ndescription: has no name\n---\nbody\n");
  writeSkill(shared, "deploy", "---\nname: deploy\ndescription: the shared copy\n---\nWRONG BODY\n");
  writeSkill(shared, "lint", "---\nname: lint\ndescription: Run the linters\n---\nnpm run lint\n");
  const config = turnConfig(
    fake.url,
    `tools = ["skill", "save_skill"]\nskills = "*"\n\n[agents.intern]\nmodel = "fake-model"\ntools = ["skill"]\nskills = ["lint"]\n`,
    `skill_dirs = ["${shared}"]`,
  );
  d = await startDaemon({ home, config });
});

afterAll(async () => {
  await d.cleanup();
  await fake[Symbol.asyncDispose]();
  rmSync(home, { recursive: true, force: true });
  rmSync(shared, { recursive: true, force: true });
});

test("broken frontmatter, a missing name and a duplicate are logged naming the file; hidden folders are not searched", async () => {
  // One scan logs all three; stderr arrives in chunks, so wait for each.
  for (const mark of ["broken/SKILL.md skipped", "nameless/SKILL.md skipped", 'skill "deploy" in '])
    await waitFor(() => d.stderr().includes(mark), 5000, `the log line "${mark}"`);
  expect(d.stderr()).toContain(
    `skill ${join(home, "skills", "broken", "SKILL.md")} skipped: the frontmatter is not valid YAML`,
  );
  expect(d.stderr()).toContain(
    `skill ${join(home, "skills", "nameless", "SKILL.md")} skipped: its frontmatter has no "name"`,
  );
  expect(d.stderr()).toContain(`skill "deploy" in ${join(shared, "deploy", "SKILL.md")} ignored`);
  const r = await runCrabtalk(home, ["skills", "--json"]);
  expect(r.code).toBe(0);
  const rows = JSON.parse(r.stdout) as { name: string; folder: string; agents: string[] }[];
  expect(rows.map((s) => s.name).sort()).toEqual(["deploy", "lint", "triage"]);
  expect(rows.find((s) => s.name === "deploy")!.folder).toBe(join(home, "skills", "deploy"));
  expect(rows.find((s) => s.name === "lint")!.agents).toEqual(["crab", "intern"]);
  expect(rows.find((s) => s.name === "triage")!.agents).toEqual(["crab"]);
});

test("/deploy now reaches the provider expanded, with the catalogue in the system prompt; history keeps the expansion", async () => {
  const c = await d.client();
  const before = fake.requests.length;
  const events = await streamTurn(c, { content: "/deploy now please" });
  expect(endOf(events).stopReason).not.toBe("error");
  const req = fake.requests[before]!;
  const expanded = 'now please\n\n<skill name="deploy">\nRun make deploy, then watch the dashboard.\n</skill>';
  expect(lastUserText(req)).toBe(expanded);
  const system = systemTextOf(req);
  expect(system).toContain("- deploy: Ship the service to production");
  expect(system).toContain("- triage: Sort incoming bugs");
  expect(system).not.toContain("secret");
  const session = Number(events[0]!.start!.session);
  const history = (await c.request({ getHistory: { session } })).history!;
  expect(history.messages.find((m) => m.role === "user")!.content).toBe(expanded);
  c.close();
});

test("an unknown /word passes through unchanged", async () => {
  const c = await d.client();
  const before = fake.requests.length;
  await streamTurn(c, { content: "/etc/hosts is where? /nosuchskill" });
  await streamTurn(c, { content: "/nosuchskill do it" });
  expect(lastUserText(fake.requests[before]!)).toBe("/etc/hosts is where? /nosuchskill");
  expect(lastUserText(fake.requests[before + 1]!)).toBe("/nosuchskill do it");
  c.close();
});

test("an ungranted /deploy and skill{name:deploy} are refused; the grant's own skill works", async () => {
  const c = await d.client();
  const before = fake.requests.length;
  const refused = await streamTurn(c, { agent: "intern", content: "/deploy now" }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(DaemonError);
  expect((refused as DaemonError).code).toBe(403);
  expect((refused as DaemonError).message).toContain('skill "deploy" is not granted to agent intern');
  expect(fake.requests.length).toBe(before);

  const events = await streamTurn(c, { agent: "intern", content: "call skill deploy" });
  expect(toolResultsOf(fake.requests.at(-1)!)[0]!.text).toContain('skill "deploy" is not granted to agent intern');
  expect(textOf(events)).not.toContain("make deploy");
  const system = systemTextOf(fake.requests.at(-1)!);
  expect(system).toContain("- lint: Run the linters");
  expect(system).not.toContain("deploy");

  await streamTurn(c, { agent: "intern", content: "call skill lin" });
  expect(toolResultsOf(fake.requests.at(-1)!)[0]!.text).toBe("lint: Run the linters");
  c.close();
});

test("a SKILL.md edited on disk is seen by the next skill call, with its folder", async () => {
  const c = await d.client();
  await streamTurn(c, { content: "call skill deploy" });
  const first = toolResultsOf(fake.requests.at(-1)!)[0]!.text;
  expect(first).toContain(`folder="${join(home, "skills", "deploy")}"`);
  expect(first).toContain("Run make deploy");
  writeFileSync(join(home, "skills", "deploy", "SKILL.md"), DEPLOY.replace("make deploy", "make release"));
  await streamTurn(c, { content: "call skill deploy" });
  const second = toolResultsOf(fake.requests.at(-1)!)[0]!.text;
  expect(second).toContain("Run make release");
  expect(second).not.toContain("make deploy");
  c.close();
});

test("save_skill writes a skill that crabtalk skills lists and /name expands", async () => {
  const c = await d.client();
  await streamTurn(c, { content: "save skill rollout" });
  expect(toolResultsOf(fake.requests.at(-1)!)[0]!.text).toBe(
    `saved skill "rollout" to ${join(home, "skills", "rollout", "SKILL.md")}`,
  );
  const r = await runCrabtalk(home, ["skills"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("rollout  Roll out: carefully, step by step");
  expect(r.stdout).toContain(`folder: ${join(home, "skills", "rollout")}`);

  const before = fake.requests.length;
  await streamTurn(c, { content: "/rollout v2" });
  expect(lastUserText(fake.requests[before]!)).toBe('v2\n\n<skill name="rollout">\n1. Tag it.\n2. Ship it.\n</skill>');

  await streamTurn(c, { content: "save skill Bad_Name" });
  expect(toolResultsOf(fake.requests.at(-1)!)[0]!.text).toContain("Bad_Name");
  c.close();
});
