/**
 * Skills in `crabtalk attach`, in a real terminal (tmux): Tab completes a
 * `/skill` name the agent is granted (a skill saved after attach started
 * included), and the completed line goes to the daemon, which expands it.
 */
import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lastUserText } from "../helpers/turn-kit.ts";
import { binaryPath, startStack, Tmux } from "./cli-kit.ts";

function writeSkill(home: string, name: string, body: string): void {
  mkdirSync(join(home, "skills", name), { recursive: true });
  writeFileSync(
    join(home, "skills", name, "SKILL.md"),
    `---\nname: ${name}\ndescription: the ${name} skill\n---\n${body}\n`,
  );
}

test("Tab completes /skill names and the completed line reaches the provider expanded", async () => {
  await using stack = await startStack('skills = ["deploy", "triage"]\n');
  writeSkill(stack.home, "deploy", "Run make deploy.");
  writeSkill(stack.home, "secret", "Not granted.");
  await using tty = Tmux.start([binaryPath(), "attach"], { home: stack.home, cols: 100 });
  await tty.waitFor("/help for commands");

  // readline treats keys that arrive in one read as a paste (a Tab in it is
  // inserted, not completed), so each Tab is sent once the line before it is shown.
  tty.type("/dep", false);
  await tty.waitFor("› /dep");
  tty.keys("Tab");
  await tty.waitFor("› /deploy");
  tty.type(" now");
  await tty.waitFor(/echo: now/);
  const req = stack.fake.requests.at(-1)!;
  expect(lastUserText(req)).toBe('now\n\n<skill name="deploy">\nRun make deploy.\n</skill>');

  // Saved after attach started: found on the next Tab. Not granted: never offered.
  writeSkill(stack.home, "triage", "Sort the bugs.");
  tty.type("/tri", false);
  await tty.waitFor("› /tri");
  tty.keys("Tab");
  await tty.waitFor("› /triage");
  tty.keys("C-u");
  // "/se" completes to attach's /sessions only if "secret" is not a candidate too.
  tty.type("/se", false);
  await tty.waitFor(/› \/se$/m);
  tty.keys("Tab");
  await tty.waitFor("› /sessions");
  tty.keys("C-u");
  // attach's own commands complete too.
  tty.type("/he", false);
  await tty.waitFor(/› \/he$/m);
  tty.keys("Tab");
  await tty.waitFor("› /help");
});
