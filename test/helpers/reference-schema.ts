/**
 * Builds protobufjs schemas from nothing but test/fixtures/wire-reference.md
 * (the original CrabTalk contract's field numbers and types), so tests can
 * speak to the daemon as a client built from that contract would.
 */
import protobuf from "protobufjs";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface RefField {
  number: number;
  name: string;
  type: string;
  rule?: "repeated" | "optional";
  oneof?: string;
  map?: { key: string; value: string };
}

export interface RefSchema {
  messages: Map<string, RefField[]>;
  enums: Map<string, Record<string, number>>;
}

/** Section titles in the reference: "Client protocol", "Extension protocol, two capabilities", "... nine capabilities". */
export function readReference(section: string): RefSchema {
  const text = readFileSync(join(import.meta.dir, "..", "fixtures", "wire-reference.md"), "utf8");
  const parts = text.split(/^## /m);
  const body = parts.find((p) => p.startsWith(section));
  if (!body) throw new Error(`no section "${section}" in wire-reference.md`);
  const messages = new Map<string, RefField[]>();
  const enums = new Map<string, Record<string, number>>();
  for (const line of body.split("\n")) {
    const en = /^- enum `(\w+)`: (.*)$/.exec(line);
    if (en) {
      const values: Record<string, number> = {};
      for (const item of en[2]!.split(", ")) {
        const [n, name] = item.split(": ");
        values[name!.trim()] = Number(n);
      }
      enums.set(en[1]!, values);
      continue;
    }
    const m = /^- `(\w+)`: (.*)$/.exec(line);
    if (!m) continue;
    const fields: RefField[] = [];
    if (m[2]!.trim() !== "(empty)") {
      for (const item of m[2]!.split("; ")) {
        const f = /^(\d+) `(\w+)`: (.+?)(?: \(oneof (\w+)\))?$/.exec(item.trim());
        if (!f) throw new Error(`unparsed field "${item}" in ${m[1]}`);
        let type = f[3]!;
        const field: RefField = { number: Number(f[1]), name: f[2]!, type };
        const map = /^map<(\w+), (\w+)>$/.exec(type);
        if (map) field.map = { key: map[1]!, value: map[2]! };
        else if (type.startsWith("repeated ")) {
          field.rule = "repeated";
          type = type.slice(9);
        } else if (type.startsWith("optional ")) {
          field.rule = "optional";
          type = type.slice(9);
        }
        field.type = type;
        if (f[4]) field.oneof = f[4];
        fields.push(field);
      }
    }
    messages.set(m[1]!, fields);
  }
  return { messages, enums };
}

/** A protobufjs root holding exactly the reference messages, in `pkg`. */
export function referenceRoot(schema: RefSchema, pkg: string): protobuf.Root {
  const root = new protobuf.Root();
  const ns = root.define(pkg);
  for (const [name, values] of schema.enums) ns.add(new protobuf.Enum(name, values));
  for (const [name, fields] of schema.messages) {
    const type = new protobuf.Type(name);
    const oneofs = new Map<string, string[]>();
    for (const f of fields) {
      if (f.map) type.add(new protobuf.MapField(f.name, f.number, f.map.key, f.map.value));
      else if (f.rule === "optional") {
        type.add(new protobuf.Field(f.name, f.number, f.type, "optional"));
        type.add(new protobuf.OneOf(`_${f.name}`, [f.name]));
      } else type.add(new protobuf.Field(f.name, f.number, f.type, f.rule === "repeated" ? "repeated" : undefined));
      if (f.oneof) oneofs.set(f.oneof, [...(oneofs.get(f.oneof) ?? []), f.name]);
    }
    for (const [oneof, members] of oneofs) type.add(new protobuf.OneOf(oneof, members));
    ns.add(type);
  }
  root.resolveAll();
  return root;
}
