/**
 * Wire compatibility with the original CrabTalk contract: every message,
 * field number and type listed in wire-reference.md exists unchanged in our
 * protos. That the daemon's frames decode with a schema built only from the
 * reference is checked against the compiled binary in
 * test/e2e/wire-compat.test.ts.
 */
import { describe, expect, test } from "bun:test";
import protobuf from "protobufjs";
import { join } from "node:path";
import { readReference, type RefSchema } from "../helpers/reference-schema.ts";

const PROTO = join(import.meta.dir, "..", "..", "proto");

function assertSuperset(ref: RefSchema, ours: protobuf.Root, pkg: string) {
  for (const [name, fields] of ref.messages) {
    const type = ours.lookupType(`${pkg}.${name}`);
    for (const f of fields) {
      const mine = type.fieldsById[f.number];
      expect(mine, `${name}.${f.name} (#${f.number})`).toBeDefined();
      expect(mine!.name).toBe(f.name);
      if (f.map) {
        expect(mine instanceof protobuf.MapField).toBe(true);
        expect((mine as unknown as protobuf.MapField).keyType).toBe(f.map.key);
        expect(mine!.type).toBe(f.map.value);
        continue;
      }
      expect(mine!.type, `${name}.${f.name} type`).toBe(f.type);
      expect(mine!.repeated, `${name}.${f.name} repeated`).toBe(f.rule === "repeated");
      if (f.oneof) expect(mine!.partOf?.name, `${name}.${f.name} oneof`).toBe(f.oneof);
      if (f.rule === "optional") expect(mine!.partOf?.name).toBe(`_${f.name}`);
    }
  }
  for (const [name, values] of ref.enums) {
    expect(ours.lookupEnum(`${pkg}.${name}`).values).toMatchObject(values);
  }
}

describe("protos keep the reference contract", () => {
  test("crabtalk.proto contains every reference field unchanged", () => {
    const ref = readReference("Client protocol");
    expect(ref.messages.size).toBe(56);
    assertSuperset(
      ref,
      new protobuf.Root().loadSync(join(PROTO, "crabtalk.proto"), { keepCase: true }),
      "crabtalk.protocol",
    );
  });

  test("ext.proto matches the nine-capability table and so the two-capability one", () => {
    const ours = new protobuf.Root().loadSync(join(PROTO, "ext.proto"), { keepCase: true });
    assertSuperset(readReference("Extension protocol, nine capabilities"), ours, "crabtalk.ext");
    assertSuperset(readReference("Extension protocol, two capabilities"), ours, "crabtalk.ext");
  });
});
