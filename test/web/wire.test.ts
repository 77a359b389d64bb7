/**
 * The dashboard's descriptor-walking codec (src/web/wire.ts) against
 * protobufjs (src/protocol/codec.ts, what the daemon and the CLI use): for
 * every message type of crabtalk.proto, random messages encoded by one are
 * decoded by the other to the same object, and encode to the same bytes.
 * A proto change the browser codec cannot follow fails here.
 */
import { describe, expect, test } from "bun:test";
import protobuf from "protobufjs/light.js";
import { clientMessage, serverMessage } from "../../src/protocol/codec.ts";
import { descriptor } from "../../src/protocol/gen/crabtalk.ts";
import { decodeAs, decodeServerMessage, encodeAs, encodeClientMessage } from "../../src/web/wire.ts";

const root = protobuf.Root.fromJSON(descriptor as unknown as protobuf.INamespace);
const ns = root.lookup("crabtalk.protocol") as protobuf.Namespace;
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
};

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

function sample(type: protobuf.Type, rand: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const chosen = new Map<string, string>();
  for (const oneof of type.oneofsArray) {
    if (oneof.name.startsWith("_")) continue;
    const members = oneof.fieldsArray;
    chosen.set(oneof.name, members[Math.floor(rand() * members.length)]!.name);
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
      switch (field.type) {
        case "string":
          return rand() < 0.2 ? "" : `s${Math.floor(rand() * 1e6)} “ünïcode” 🦀`;
        case "bool":
          return rand() < 0.5;
        case "double":
          return rand() * 1000 - 500;
        case "int32":
          return Math.floor(rand() * 2000) - 1000;
        case "uint32":
          return Math.floor(rand() * 2 ** 32);
        case "uint64":
          return Math.floor(rand() * 2 ** 52);
        default:
          throw new Error(`no sampler for ${field.type}`);
      }
    };
    if (field.map) out[field.name] = { a: one(), "b c": one() };
    else if (field.repeated) out[field.name] = Array.from({ length: Math.floor(rand() * 3) }, one);
    else out[field.name] = one();
  }
  return out;
}

const types = ns.nestedArray.filter((t): t is protobuf.Type => t instanceof protobuf.Type);

describe("wire codec matches protobufjs", () => {
  test("the proto has message types to check", () => {
    expect(types.length).toBeGreaterThan(50);
  });
  for (const type of types) {
    test(type.name, () => {
      const rand = rng(type.name.length * 7919 + 17);
      for (let i = 0; i < 25; i++) {
        const message = sample(type, rand, 0);
        const bytes = type.encode(message).finish();
        expect(decodeAs(type.name, bytes)).toEqual(type.toObject(type.decode(bytes), TO_OBJECT));
        expect(encodeAs(type.name, message)).toEqual(new Uint8Array(bytes));
      }
    });
  }
});

describe("the browser's two directions", () => {
  test("a ClientMessage the page sends is what the daemon decodes", () => {
    const message = { attach: { session: 42, afterSeq: 0, client: "dashboard" }, requestId: 7 };
    expect(clientMessage.decode(encodeClientMessage(message))).toEqual(
      clientMessage.decode(clientMessage.encode(message)),
    );
  });
  test("a ServerMessage the daemon sends is what the page decodes", () => {
    const message = {
      requestId: 9,
      stream: {
        toolResult: { callId: "c1", output: "hi\n", durationMs: 12, isError: false, name: "bash", details: "" },
        seq: 5,
        session: 3,
        timestampMs: 1_796_058_789_238,
      },
    };
    expect(decodeServerMessage(serverMessage.encode(message))).toEqual(
      serverMessage.decode(serverMessage.encode(message)),
    );
  });
  test("bytes that are not a message are refused", () => {
    expect(() => decodeServerMessage(new Uint8Array([0x12, 0x05, 0x01]))).toThrow(/truncated/);
  });
});
