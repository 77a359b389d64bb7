/**
 * The ahead-of-time codecs (src/protocol/gen/*-codec.ts, scripts/gen-codec.ts)
 * against protobufjs's reflection codec, configured as codec.ts configured it
 * before (uint64 as plain numbers): for every message type of crabtalk.proto
 * and ext.proto, random messages encode to the same bytes, and those bytes
 * (alone, concatenated with another message's so merging and oneof
 * replacement show, and with unknown fields of every wire type spliced in)
 * decode to the same object. A generator change that drifts from protobuf's
 * rules fails here.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { generateCodec } from "../../scripts/gen-codec.ts";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import { CODECS as CLIENT_CODECS } from "../../src/protocol/gen/crabtalk-codec.ts";
import { descriptor as clientDescriptor } from "../../src/protocol/gen/crabtalk.ts";
import { CODECS as EXT_CODECS } from "../../src/protocol/gen/ext-codec.ts";
import { descriptor as extDescriptor } from "../../src/protocol/gen/ext.ts";
import { Reader, Writer } from "../../src/protocol/wire-io.ts";

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
};

type Codec = (typeof CLIENT_CODECS)[string];

function ours(codec: Codec, message: Record<string, unknown>): Uint8Array {
  const w = new Writer();
  codec.encode(message, w);
  return w.finish();
}
function decodeOurs(codec: Codec, bytes: Uint8Array): Record<string, unknown> {
  return codec.decode(new Reader(bytes), bytes.length);
}
function reference(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), TO_OBJECT);
}
function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

const STRINGS = ["", "a", "héllo “ünïcode” 🦀", "x".repeat(200), "ß".repeat(70), "y".repeat(20_000)];

function scalar(field: protobuf.Field, rand: () => number): unknown {
  switch (field.type) {
    case "string":
      return rand() < 0.5 ? STRINGS[Math.floor(rand() * STRINGS.length)] : `s${Math.floor(rand() * 1e6)}`;
    case "bool":
      return rand() < 0.5;
    case "double":
      return [0, -0, 1.5, -1e300, Number.MIN_VALUE, rand() * 1000 - 500][Math.floor(rand() * 6)];
    case "int32":
      return [0, -1, -(2 ** 31), 2 ** 31 - 1, Math.floor(rand() * 2000) - 1000][Math.floor(rand() * 5)];
    case "uint32":
      return [0, 127, 128, 2 ** 32 - 1, Math.floor(rand() * 2 ** 32)][Math.floor(rand() * 5)];
    case "uint64":
      // Request ids decode exactly here, rounded by protobufjs: only the others get values past 2^53.
      if (field.name === "requestId") return Math.floor(rand() * 2 ** 52);
      return [0, 1, 2 ** 32, 2 ** 53 - 1, 2 ** 60 + 2 ** 20, 2 ** 64 - 2 ** 12, Math.floor(rand() * 2 ** 52)][
        Math.floor(rand() * 7)
      ];
    case "bytes":
      return new Uint8Array(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    default:
      throw new Error(`no sampler for ${field.type} (${field.fullName}): add one`);
  }
}

function sample(type: protobuf.Type, rand: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const chosen = new Map<string, string>();
  for (const oneof of type.oneofsArray) {
    if (oneof.name.startsWith("_")) continue;
    chosen.set(oneof.name, oneof.fieldsArray[Math.floor(rand() * oneof.fieldsArray.length)]!.name);
  }
  for (const field of type.fieldsArray) {
    field.resolve();
    const real = field.partOf && !field.partOf.name.startsWith("_");
    if (real && chosen.get(field.partOf!.name) !== field.name) continue;
    if (rand() < 0.25 && !real) continue;
    const one = (): unknown => {
      if (field.resolvedType instanceof protobuf.Type)
        return depth > 3 ? {} : sample(field.resolvedType, rand, depth + 1);
      if (field.resolvedType instanceof protobuf.Enum) return Math.floor(rand() * 3);
      return scalar(field, rand);
    };
    if (field.map) out[field.name] = { a: one(), "b c": one(), "": one() };
    else if (field.repeated) out[field.name] = Array.from({ length: Math.floor(rand() * 3) }, one);
    else out[field.name] = one();
  }
  return out;
}

function typesOf(ns: protobuf.NamespaceBase, out: protobuf.Type[] = []): protobuf.Type[] {
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type) out.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) typesOf(n, out);
  }
  return out;
}

/**
 * Unknown fields of every wire type (numbers no message uses): varint, fixed64, bytes, group, fixed32.
 * protobufjs misreads a group in a message with no fields (it checks the end tag against the whole start tag),
 * so those get NO_GROUP.
 */
const UNKNOWN = new Uint8Array([
  ...[0xf8, 0xff, 0x3f, 0x96, 0x01], // field 131071 varint 150
  ...[0xb1, 0x7d, 1, 2, 3, 4, 5, 6, 7, 8], // field 2006 fixed64
  ...[0xb2, 0x7d, 3, 0x61, 0x62, 0x63], // field 2006 bytes "abc"
  ...[0xb3, 0x7d, 0x08, 0x01, 0xb4, 0x7d], // field 2006 group holding field 1 = 1
  ...[0xb5, 0x7d, 9, 9, 9, 9], // field 2006 fixed32
]);
const NO_GROUP = new Uint8Array([...UNKNOWN.subarray(0, 21), ...UNKNOWN.subarray(27)]);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const PROTOS = [
  { name: "crabtalk.proto", pkg: "crabtalk.protocol", descriptor: clientDescriptor, codecs: CLIENT_CODECS },
  { name: "ext.proto", pkg: "crabtalk.ext", descriptor: extDescriptor, codecs: EXT_CODECS },
];

for (const proto of PROTOS) {
  const root = protobuf.Root.fromJSON(proto.descriptor as unknown as protobuf.INamespace);
  const types = typesOf(root.lookup(proto.pkg) as protobuf.Namespace);
  describe(`generated codec of ${proto.name} matches protobufjs`, () => {
    test("every message type has a generated codec", () => {
      expect(types.length).toBeGreaterThan(proto.name === "ext.proto" ? 10 : 50);
      expect(Object.keys(proto.codecs).sort()).toEqual(
        types.map((t) => t.fullName.slice(proto.pkg.length + 2).replace(/\./g, "_")).sort(),
      );
    });
    for (const type of types) {
      test(type.name, () => {
        const codec = proto.codecs[type.fullName.slice(proto.pkg.length + 2).replace(/\./g, "_")]!;
        const rand = rng(type.name.length * 7919 + 17);
        const empty = new Uint8Array();
        expect(decodeOurs(codec, empty)).toEqual(reference(type, empty));
        for (let i = 0; i < 30; i++) {
          const message = sample(type, rand, 0);
          const bytes = type.encode(message).finish();
          expect(hex(ours(codec, message))).toBe(hex(bytes));
          expect(decodeOurs(codec, bytes)).toEqual(reference(type, bytes));
          // A second message after the first: scalars replaced, repeated appended, messages merged, oneofs replaced.
          const second = type.encode(sample(type, rand, 0)).finish();
          const both = concat(bytes, second);
          expect(decodeOurs(codec, both)).toEqual(reference(type, both));
          // Unknown fields before, between and after are skipped.
          const unknown = type.fieldsArray.length ? UNKNOWN : NO_GROUP;
          const withUnknown = concat(unknown, bytes, unknown, second, unknown);
          expect(decodeOurs(codec, withUnknown)).toEqual(reference(type, withUnknown));
          // Our bytes decode through protobufjs too (the other direction of the same equality).
          expect(reference(type, ours(codec, message))).toEqual(reference(type, bytes));
        }
      });
    }
  });
}

describe("decoding", () => {
  test("a known field with the wrong wire type is skipped, as protobufjs skips it", () => {
    const root = protobuf.Root.fromJSON(clientDescriptor as unknown as protobuf.INamespace);
    const type = root.lookupType("crabtalk.protocol.SendMsg");
    // agent (1) as a varint, content (2) as a fixed32, then agent as a string.
    const bytes = new Uint8Array([0x08, 0x05, 0x15, 1, 2, 3, 4, 0x0a, 1, 0x61]);
    expect(decodeOurs(CLIENT_CODECS.SendMsg!, bytes)).toEqual(reference(type, bytes));
    expect(decodeOurs(CLIENT_CODECS.SendMsg!, bytes)).toMatchObject({ agent: "a", content: "" });
  });
  test("truncated bytes are refused with where", () => {
    const bytes = clientMessage.encode({ send: { agent: "a", content: "hello" }, requestId: 3 });
    // Field 1 (send) first: a tag, a one-byte length, its body; a cut anywhere inside it is not a message.
    for (let cut = 1; cut < 2 + bytes[1]!; cut++)
      expect(() => clientMessage.decode(bytes.subarray(0, cut))).toThrow(/out of range|invalid/);
  });
  test("request ids above 2^53 - 1 decode exactly, as bigints", () => {
    const big = 2n ** 64n - 1n;
    expect(serverMessage.decode(serverMessage.encode({ requestId: big, pong: {} })).requestId).toBe(big);
    const reply = clientMessage.decode(clientMessage.encode({ unsubscribe: { requestId: 2n ** 53n } }));
    expect(reply.unsubscribe?.requestId).toBe(2n ** 53n);
  });
});

/** A proto with what crabtalk's protos do not use yet, generated and loaded here, so the generator is ready for it. */
const EXTRA_PROTO = `
syntax = "proto3";
package extra;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { string name = 1; repeated uint32 ns = 2; }
message Extra {
  repeated int32 packed_ints = 1;
  repeated uint64 packed_longs = 2;
  repeated double packed_doubles = 3;
  repeated bool packed_bools = 4;
  repeated Color colors = 5;
  repeated int32 plain_ints = 6 [packed = false];
  map<string, Inner> inners = 7;
  map<string, uint64> counts = 8;
  Color color = 9;
  optional Color maybe_color = 10;
  Inner inner = 11;
  repeated bytes blobs = 12;
  oneof pick { Inner a = 13; string b = 14; uint64 c = 15; }
}
`;

test("the generator handles packed and unpacked repeated scalars, enums and maps of messages", async () => {
  const parsed = protobuf.parse(EXTRA_PROTO, { keepCase: false }).root;
  parsed.resolveAll();
  const dir = join(import.meta.dir, "..", "..", ".tmp", "gen-codec-test");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `extra-${process.pid}.ts`);
  const source = generateCodec(parsed, "extra.proto", "extra").replace(
    '"../wire-io.ts"',
    JSON.stringify(join(import.meta.dir, "..", "..", "src", "protocol", "wire-io.ts")),
  );
  writeFileSync(file, source);
  const { CODECS } = (await import(file)) as { CODECS: Record<string, Codec> };
  const type = parsed.lookupType("extra.Extra");
  const rand = rng(99);
  for (let i = 0; i < 200; i++) {
    const message = sample(type, rand, 0);
    const bytes = type.encode(message).finish();
    expect(hex(ours(CODECS.Extra!, message))).toBe(hex(bytes));
    expect(decodeOurs(CODECS.Extra!, bytes)).toEqual(reference(type, bytes));
  }
  // Packed fields written unpacked (and the unpacked one packed) decode the same.
  const unpacked = new Uint8Array([0x08, 0x7f, 0x08, 0x01, 0x10, 0x05, 0x20, 0x01, 0x28, 0x02, 0x32, 0x02, 0x03, 0x04]);
  expect(decodeOurs(CODECS.Extra!, unpacked)).toEqual(reference(type, unpacked));
  expect(decodeOurs(CODECS.Extra!, unpacked)).toMatchObject({
    packedInts: [127, 1],
    packedLongs: [5],
    packedBools: [true],
    colors: [2],
    plainInts: [3, 4],
  });
});
