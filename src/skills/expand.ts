/**
 * `/name rest` at the start of a message: the message becomes `rest`
 * followed by the skill's body in `<skill name="name">…</skill>`. Pure: the
 * caller looks the skill up, checks the grant and reads the body.
 *
 * The expanded text is what the session stores as the user message, not the
 * typed one: the model saw the workflow when it answered, and later turns
 * must see the same conversation it answered (and a prompt cache stays
 * valid); the `<skill>` tag shows a reader of the history where it came from.
 */

/** The skill name and the rest of a message starting with `/word`; undefined otherwise. */
export function parseSlash(content: string): { name: string; rest: string } | undefined {
  const m = /^\/([A-Za-z0-9][A-Za-z0-9_-]{0,63})(?:[ \t]+|\r?\n|$)/.exec(content);
  if (!m) return undefined;
  return { name: m[1]!, rest: content.slice(m[0].length).trim() };
}

export function expandSkill(rest: string, name: string, body: string): string {
  const block = `<skill name="${name}">\n${body.trim()}\n</skill>`;
  return rest ? `${rest}\n\n${block}` : block;
}

/** The short catalogue for the system prompt: names and descriptions only. */
export function catalogPrompt(skills: readonly { name: string; description: string }[]): string | undefined {
  if (skills.length === 0) return undefined;
  const lines = skills.map((s) => `- ${s.name}: ${s.description.replace(/\s+/g, " ")}`);
  return [
    "Skills you can use (call the `skill` tool with a name to read its instructions; a user message starting with /name brings them in):",
    ...lines,
  ].join("\n");
}
