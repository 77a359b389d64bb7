/**
 * The codec's roots (buildRoot: each type resolves its fields on first use)
 * encode and decode every message type exactly as Root.fromJSON's fully
 * resolved roots do: the same bytes for a message with every field set
 * (repeated fields twice, so packing shows), and the same decoded shape for
 * those bytes and for an empty message (defaults, presence, oneofs).
 */
import { expect, test } from "bun:test";
import protobuf from "protobufjs/light.js";
import { buildRoot } from "../../src/protocol/codec.ts";
import { descriptor as clientDescriptor } from "../../src/protocol/gen/crabtalk.ts";
import { descriptor as extDescriptor } from "../../src/protocol/gen/ext.ts";

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
};
const SCALARS: Record<string, unknown> = {
  double: 1.5,
  float: 2.5,
  int32: -3,
  uint32: 4,
  sint32: -5,
  fixed32: 6,
  sfixed32: -7,
  int64: 8,
  uint64: 9,
  sint64: -10,
  fixed64: 11,
  sfixed64: -12,
  bool: true,
  string: "s",
  bytes: new Uint8Array([1, 2]),
};

function typesOf(ns: protobuf.NamespaceBase, out: protobuf.Type[] = []): protobuf.Type[] {
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type) out.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) typesOf(n, out);
  }
  return out;
}

/** Every field set (the first member of each oneof), nested messages to depth 3. */
function sample(type: protobuf.Type, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    f.resolve();
    if (f.partOf?.oneof.some((name) => name in o)) continue;
    const nested = f.resolvedType;
    let v: unknown =
      nested instanceof protobuf.Enum
        ? 1
        : nested instanceof protobuf.Type
          ? depth < 3
            ? sample(nested, depth + 1)
            : undefined
          : SCALARS[f.type];
    if (v === undefined) continue;
    if (f.map) v = { k: v };
    else if (f.repeated) v = [v, v];
    o[f.name] = v;
  }
  return o;
}

test("lazily resolved roots encode and decode every type as fully resolved ones do", () => {
  let checked = 0;
  for (const descriptor of [clientDescriptor, extDescriptor]) {
    const full = protobuf.Root.fromJSON(descriptor as unknown as protobuf.INamespace);
    const lazy = buildRoot(descriptor);
    for (const type of typesOf(full)) {
      const lazyType = lazy.lookupType(type.fullName);
      const bytes = type.encode(sample(type, 0)).finish();
      expect([type.fullName, Buffer.from(lazyType.encode(sample(type, 0)).finish()).toString("hex")]).toEqual([
        type.fullName,
        Buffer.from(bytes).toString("hex"),
      ]);
      expect(lazyType.toObject(lazyType.decode(bytes), TO_OBJECT)).toEqual(
        type.toObject(type.decode(bytes), TO_OBJECT),
      );
      const empty = new Uint8Array();
      expect(lazyType.toObject(lazyType.decode(empty), TO_OBJECT)).toEqual(
        type.toObject(type.decode(empty), TO_OBJECT),
      );
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(100);
});
