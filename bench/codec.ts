/**
 * Codec microbench, `bun bench/codec.ts`: a ServerMessage carrying a
 * StreamEvent text delta (the daemon's most frequent frame) encoded and
 * decoded by src/protocol/codec.ts (generated ahead of time) and by
 * protobufjs's reflection codec configured as codec.ts used it before
 * (the reference), side by side in one run; plus each one's cold cost
 * (first encode + decode, including building protobufjs's types).
 *   CODEC_ITERATIONS=200000 bun bench/codec.ts
 */
import { serverMessage } from "../src/protocol/codec.ts";
import { descriptor } from "../src/protocol/gen/crabtalk.ts";

const N = Number(process.env.CODEC_ITERATIONS ?? 200_000);
const message = {
  requestId: 12,
  stream: {
    chunk: { content: "Hello, this is a short delta " },
    seq: 4321,
    session: 17,
    timestampMs: 1_796_058_789_238,
  },
};

function rate(label: string, run: () => void): number {
  for (let i = 0; i < 20_000; i++) run();
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < N; i++) run();
  const ns = (Bun.nanoseconds() - t0) / N;
  console.log(`${label.padEnd(40)} ${ns.toFixed(0).padStart(6)} ns/op`);
  return ns;
}

let t0 = Bun.nanoseconds();
const generatedBytes = serverMessage.encode(message);
serverMessage.decode(generatedBytes);
const generatedCold = (Bun.nanoseconds() - t0) / 1e6;

t0 = Bun.nanoseconds();
const protobuf = (await import("protobufjs/light.js")).default;
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
const type = protobuf.Root.fromJSON(descriptor as unknown as protobuf.INamespace).lookupType(
  "crabtalk.protocol.ServerMessage",
);
const TO_OBJECT = { longs: Number, enums: Number, defaults: true, oneofs: true, arrays: true };
const referenceBytes = type.encode(message).finish();
type.toObject(type.decode(referenceBytes), TO_OBJECT);
const referenceCold = (Bun.nanoseconds() - t0) / 1e6;

if (Buffer.compare(Buffer.from(generatedBytes), Buffer.from(referenceBytes)) !== 0) throw new Error("bytes differ");
console.log(
  `cold first encode+decode: generated ${generatedCold.toFixed(2)} ms, protobufjs ${referenceCold.toFixed(2)} ms (import + types)`,
);
const encGen = rate("encode, generated", () => serverMessage.encode(message));
const encRef = rate("encode, protobufjs reflection", () => type.encode(message).finish());
const decGen = rate("decode, generated", () => serverMessage.decode(generatedBytes));
const decRef = rate("decode, protobufjs reflection", () => type.toObject(type.decode(referenceBytes), TO_OBJECT));
console.log(
  `ratio generated/protobufjs: encode ${(encGen / encRef).toFixed(2)}, decode ${(decGen / decRef).toFixed(2)}`,
);
