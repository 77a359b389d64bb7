/**
 * Finds the line a config key is written on, so a semantic error (a value of
 * the wrong kind, an unknown tool) can say file:line like a syntax error does.
 * smol-toml returns plain values without positions, so this reads the source
 * text itself: table headers ([a.b], [[a]]), dotted and quoted keys, and skips
 * multi-line strings and arrays. It is a locator, not a validator: it runs on
 * text smol-toml already accepted.
 *
 * A key inside an inline table ({ x = 1 }) is located at the line of the key
 * that holds the table.
 */

interface ScanState {
  /** The closing delimiter of the multi-line string we are inside, if any. */
  inString: '"""' | "'''" | null;
  /** Open [ and { of a value that spans lines. */
  depth: number;
}

/** Reads a dotted key at `pos`: bare, "basic" or 'literal' parts. */
function readKey(s: string, start: number): { parts: string[]; end: number } | null {
  const parts: string[] = [];
  let pos = start;
  for (;;) {
    while (s[pos] === " " || s[pos] === "\t") pos++;
    const c = s[pos];
    if (c === '"') {
      let end = pos + 1;
      while (end < s.length && s[end] !== '"') end += s[end] === "\\" ? 2 : 1;
      const raw = s.slice(pos, end + 1);
      try {
        parts.push(JSON.parse(raw) as string);
      } catch {
        parts.push(raw.slice(1, -1));
      }
      pos = end + 1;
    } else if (c === "'") {
      const end = s.indexOf("'", pos + 1);
      if (end < 0) return null;
      parts.push(s.slice(pos + 1, end));
      pos = end + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(s.slice(pos));
      if (!m) return null;
      parts.push(m[0]);
      pos += m[0].length;
    }
    while (s[pos] === " " || s[pos] === "\t") pos++;
    if (s[pos] !== ".") return { parts, end: pos };
    pos++;
  }
}

/** Walks a value's text from `pos`, tracking strings, brackets and comments across lines. */
function scanValue(s: string, start: number, state: ScanState): void {
  let pos = start;
  while (pos < s.length) {
    if (state.inString) {
      const close = s.indexOf(state.inString, pos);
      if (close < 0) return;
      pos = close + 3;
      state.inString = null;
      continue;
    }
    const c = s[pos]!;
    if (c === "#") return;
    if (c === '"' || c === "'") {
      const triple = c.repeat(3);
      if (s.startsWith(triple, pos)) {
        state.inString = triple as '"""' | "'''";
        pos += 3;
        continue;
      }
      pos++;
      while (pos < s.length && s[pos] !== c) pos += c === '"' && s[pos] === "\\" ? 2 : 1;
      pos++;
      continue;
    }
    if (c === "[" || c === "{") state.depth++;
    else if (c === "]" || c === "}") state.depth--;
    pos++;
  }
}

/** Every key and table header in the text, as a dotted path, with the 1-based line of its first appearance. */
export function keyLines(text: string): Map<string, number> {
  const found = new Map<string, number>();
  const record = (parts: string[], line: number) => {
    const path = parts.join(".");
    if (!found.has(path)) found.set(path, line);
  };
  const state: ScanState = { inString: null, depth: 0 };
  let table: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (state.inString || state.depth > 0) {
      scanValue(line, 0, state);
      continue;
    }
    const trimmed = line.trimStart();
    const indent = line.length - trimmed.length;
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (trimmed.startsWith("[")) {
      const open = trimmed.startsWith("[[") ? 2 : 1;
      const key = readKey(line, indent + open);
      if (key) {
        table = key.parts;
        record(table, i + 1);
      }
      continue;
    }
    const key = readKey(line, indent);
    if (!key || line[key.end] !== "=") continue;
    for (let n = 1; n <= key.parts.length; n++) record([...table, ...key.parts.slice(0, n)], i + 1);
    scanValue(line, key.end + 1, state);
  }
  return found;
}

/**
 * The line of `path` (dotted, as ConfigError keys are written): where the key itself is
 * written; else where the first key inside it is (a section known only by its subtables);
 * else where its nearest written parent is (a key missing from its table, a key inside an
 * inline table). Undefined when nothing of it is in the text.
 */
export function locateKey(text: string, path: string): number | undefined {
  if (path === "") return undefined;
  const lines = keyLines(text);
  const exact = lines.get(path);
  if (exact !== undefined) return exact;
  let first: number | undefined;
  for (const [key, line] of lines) {
    if (key.startsWith(`${path}.`) && (first === undefined || line < first)) first = line;
  }
  if (first !== undefined) return first;
  for (let cut = path.lastIndexOf("."); cut > 0; cut = path.lastIndexOf(".", cut - 1)) {
    const parent = lines.get(path.slice(0, cut));
    if (parent !== undefined) return parent;
  }
  return undefined;
}
