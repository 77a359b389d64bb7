/**
 * The dashboard's protobuf codec: crabtalk.proto messages encoded and
 * decoded by walking the generated descriptor (src/protocol/gen), with no
 * code generated at run time. protobufjs builds its encoders with
 * `new Function`, which the dashboard's CSP (default-src 'self', no
 * 'unsafe-eval') forbids, so the browser cannot use src/protocol/codec.ts.
 *
 * Contract: exactly codec.ts's shapes, checked against protobufjs in
 * test/web/wire.test.ts — decoded messages are plain objects with proto3
 * defaults filled in (scalars, enums as numbers, repeated [], maps {},
 * messages null), uint64 as numbers, members of a oneof present only when
 * set, with the oneof's name holding the member's name (proto3 `optional`
 * fields: present only when set, no discriminator). Encoding writes every
 * field that is present (not undefined/null), in field-number order.
 * The protocol uses string, bool, double, int32, uint32, uint64, enums,
 * messages, repeated strings and messages, and one map<string, string>;
 * other scalar types are refused when the codec is built, so a proto change
 * that needs them fails loudly in the unit test, not in a browser.
 */
import { descriptor } from "../protocol/gen/crabtalk.ts";
import type { ClientMessage, ServerMessage } from "../protocol/gen/crabtalk.ts";
import type { Init } from "../protocol/codec.ts";

type Scalar = "string" | "bool" | "double" | "int32" | "uint32" | "uint64";
const SCALARS = new Set<string>(["string", "bool", "double", "int32", "uint32", "uint64"]);

interface Field {
  name: string;
  id: number;
  kind: "scalar" | "enum" | "message" | "map";
  scalar: Scalar;
  /** Message fields and map values of message type. */
  message: string;
  repeated: boolean;
  /** A real oneof's name (the discriminator); "" for none or a proto3 optional. */
  oneof: string;
  /** Member of any oneof (real or proto3 optional): no default. */
  partOf: boolean;
}

interface MessageType {
  fields: Field[];
  byId: Map<number, Field>;
}

interface DescField {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
}
interface DescType {
  fields?: Record<string, DescField>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  nested?: Record<string, DescType>;
}

function compile(namespace: Record<string, DescType>): Map<string, MessageType> {
  const types = new Map<string, MessageType>();
  const isEnum = (name: string) => namespace[name]?.values !== undefined;
  for (const [typeName, t] of Object.entries(namespace)) {
    if (!t.fields) continue;
    if (t.nested) throw new Error(`wire.ts: ${typeName} has nested types; teach compile() to resolve them`);
    const oneofOf = new Map<string, string>();
    for (const [oneofName, o] of Object.entries(t.oneofs ?? {}))
      for (const member of o.oneof) oneofOf.set(member, oneofName);
    const fields: Field[] = Object.entries(t.fields).map(([name, f]) => {
      const oneofName = oneofOf.get(name) ?? "";
      const synthetic = oneofName === `_${name}`;
      const map = f.keyType !== undefined;
      if (map && f.keyType !== "string") throw new Error(`wire.ts: ${typeName}.${name}: map keys other than string`);
      const known = SCALARS.has(f.type) || isEnum(f.type) || namespace[f.type]?.fields !== undefined;
      if (!known) throw new Error(`wire.ts: ${typeName}.${name}: type ${f.type} is not supported`);
      return {
        name,
        id: f.id,
        kind: map ? "map" : SCALARS.has(f.type) ? "scalar" : isEnum(f.type) ? "enum" : "message",
        scalar: (SCALARS.has(f.type) ? f.type : "int32") as Scalar,
        message: SCALARS.has(f.type) || isEnum(f.type) ? "" : f.type,
        repeated: f.rule === "repeated",
        oneof: synthetic ? "" : oneofName,
        partOf: oneofName !== "",
      };
    });
    fields.sort((a, b) => a.id - b.id);
    types.set(typeName, { fields, byId: new Map(fields.map((f) => [f.id, f])) });
  }
  return types;
}

const TYPES = compile(
  (descriptor as unknown as { nested: { crabtalk: { nested: { protocol: { nested: Record<string, DescType> } } } } })
    .nested.crabtalk.nested.protocol.nested,
);

function typeOf(name: string): MessageType {
  const t = TYPES.get(name);
  if (!t) throw new Error(`wire.ts: no message type ${name}`);
  return t;
}

// ---------------------------------------------------------------- decoding

const utf8 = new TextDecoder();

class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end = buf.length,
  ) {}

  /** A varint as [low 32 bits, high 32 bits], both unsigned. */
  varint(): [number, number] {
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new Error("protobuf: truncated varint");
      const b = this.buf[this.pos++]!;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x70) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    throw new Error("protobuf: varint longer than 10 bytes");
  }

  bytes(): Uint8Array {
    const [len] = this.varint();
    if (this.pos + len > this.end) throw new Error("protobuf: truncated length-delimited field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`protobuf: unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error("protobuf: truncated field");
  }
}

function scalarValue(r: Reader, scalar: Scalar, wire: number): unknown {
  if (scalar === "string") return utf8.decode(r.bytes());
  if (scalar === "double") {
    if (wire !== 1) throw new Error("protobuf: double with a wire type other than 64-bit");
    const v = new DataView(r.buf.buffer, r.buf.byteOffset + r.pos, 8).getFloat64(0, true);
    r.pos += 8;
    return v;
  }
  const [lo, hi] = r.varint();
  if (scalar === "bool") return lo !== 0 || hi !== 0;
  if (scalar === "uint32") return lo;
  if (scalar === "int32") return lo | 0;
  return hi * 4294967296 + lo; // uint64: ids, counts and milliseconds, far below 2^53
}

function defaults(t: MessageType): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  for (const f of t.fields) {
    if (f.repeated) d[f.name] = [];
    else if (f.kind === "map") d[f.name] = {};
    else if (f.partOf) continue;
    else if (f.kind === "message") d[f.name] = null;
    else if (f.kind === "enum") d[f.name] = 0;
    else d[f.name] = f.scalar === "string" ? "" : f.scalar === "bool" ? false : 0;
  }
  return d;
}

function decodeMessage(t: MessageType, r: Reader, depth: number): Record<string, unknown> {
  if (depth > 100) throw new Error("protobuf: messages nested too deep");
  const d = defaults(t);
  while (r.pos < r.end) {
    const [tag] = r.varint();
    const wire = tag & 7;
    const f = t.byId.get(tag >>> 3);
    if (!f) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    if (f.kind === "message") {
      const sub = r.bytes();
      value = decodeMessage(typeOf(f.message), new Reader(sub), depth + 1);
    } else if (f.kind === "map") {
      const entry = new Reader(r.bytes());
      let key = "";
      let val: unknown = f.scalar === "string" ? "" : 0;
      while (entry.pos < entry.end) {
        const [etag] = entry.varint();
        if (etag >>> 3 === 1) key = utf8.decode(entry.bytes());
        else if (etag >>> 3 === 2) val = scalarValue(entry, f.scalar, etag & 7);
        else entry.skip(etag & 7);
      }
      (d[f.name] as Record<string, unknown>)[key] = val;
      continue;
    } else if (f.repeated && wire === 2 && f.scalar !== "string") {
      // A packed run of numbers.
      const packed = new Reader(r.bytes());
      const list = d[f.name] as unknown[];
      while (packed.pos < packed.end)
        list.push(scalarValue(packed, f.kind === "enum" ? "int32" : f.scalar, f.scalar === "double" ? 1 : 0));
      continue;
    } else value = scalarValue(r, f.kind === "enum" ? "int32" : f.scalar, wire);
    if (f.repeated) (d[f.name] as unknown[]).push(value);
    else {
      d[f.name] = value;
      if (f.oneof) d[f.oneof] = f.name;
    }
  }
  return d;
}

// ---------------------------------------------------------------- encoding

const utf8Out = new TextEncoder();

class Writer {
  private chunks: number[] = [];

  varint(lo: number, hi: number): void {
    while (hi !== 0 || lo > 0x7f) {
      this.chunks.push((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.chunks.push(lo);
  }

  number(n: number): void {
    if (n < 0)
      this.varint(n >>> 0, 0xffffffff); // int32/enum: sign-extended to 64 bits, as protobuf does
    else this.varint((n % 4294967296) >>> 0, Math.floor(n / 4294967296) >>> 0);
  }

  tag(id: number, wire: number): void {
    this.number(id * 8 + wire);
  }

  bytes(b: Uint8Array): void {
    this.number(b.length);
    for (const x of b) this.chunks.push(x);
  }

  double(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    for (const x of b) this.chunks.push(x);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function isDefault(v: unknown): boolean {
  return v === "" || v === false || v === 0 || v === 0n;
}

/** One value with its tag (`tagged` false: a packed run's element, no tag). */
function writeScalar(w: Writer, scalar: Scalar, id: number, v: unknown, tagged = true): void {
  if (scalar === "string") {
    w.tag(id, 2);
    w.bytes(utf8Out.encode(String(v)));
  } else if (scalar === "double") {
    if (tagged) w.tag(id, 1);
    w.double(Number(v));
  } else {
    if (tagged) w.tag(id, 0);
    if (scalar === "bool") w.number(v ? 1 : 0);
    else if (typeof v === "bigint") w.varint(Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
    else w.number(Number(v));
  }
}

function encodeMessage(t: MessageType, m: Record<string, unknown>, w: Writer): void {
  for (const f of t.fields) {
    const v = m[f.name];
    if (v === undefined || v === null) continue;
    if (f.kind === "map") {
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        const entry = new Writer();
        writeScalar(entry, "string", 1, k);
        writeScalar(entry, f.scalar, 2, val);
        w.tag(f.id, 2);
        w.bytes(entry.finish());
      }
      continue;
    }
    if (f.repeated && f.kind !== "message" && f.scalar !== "string") {
      // proto3 packs repeated numbers: one length-delimited run.
      if ((v as unknown[]).length === 0) continue;
      const run = new Writer();
      for (const item of v as unknown[]) writeScalar(run, f.kind === "enum" ? "int32" : f.scalar, 0, item, false);
      w.tag(f.id, 2);
      w.bytes(run.finish());
      continue;
    }
    // Without presence (plain proto3 scalars), a default value is not written, as protobufjs does.
    if (!f.repeated && !f.partOf && f.kind !== "message" && isDefault(v)) continue;
    for (const item of f.repeated ? (v as unknown[]) : [v]) {
      if (f.kind === "message") {
        const sub = new Writer();
        encodeMessage(typeOf(f.message), item as Record<string, unknown>, sub);
        w.tag(f.id, 2);
        w.bytes(sub.finish());
      } else writeScalar(w, f.kind === "enum" ? "int32" : f.scalar, f.id, item);
    }
  }
}

/** Client to daemon: what the browser sends. */
export function encodeClientMessage(message: Init<ClientMessage>): Uint8Array {
  const w = new Writer();
  encodeMessage(typeOf("ClientMessage"), message as Record<string, unknown>, w);
  return w.finish();
}

/** Daemon to client; throws on bytes that are not a ServerMessage. */
export function decodeServerMessage(bytes: Uint8Array): ServerMessage {
  return decodeMessage(typeOf("ServerMessage"), new Reader(bytes), 0) as unknown as ServerMessage;
}

/** Any message type by name, for tests comparing with protobufjs. */
export function encodeAs(type: string, message: object): Uint8Array {
  const w = new Writer();
  encodeMessage(typeOf(type), message as Record<string, unknown>, w);
  return w.finish();
}

export function decodeAs(type: string, bytes: Uint8Array): Record<string, unknown> {
  return decodeMessage(typeOf(type), new Reader(bytes), 0);
}
