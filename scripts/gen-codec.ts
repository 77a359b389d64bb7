/**
 * Generates the ahead-of-time protobuf codec of one .proto (called by
 * scripts/gen-proto.ts): per message, a plain encode function over
 * src/protocol/wire-io.ts's Writer and a decode function over its Reader,
 * with no reflection and no code generated at run time.
 *
 * Contract: exactly what protobufjs's reflection encoder writes and what its
 * decoder plus toObject({longs: Number, enums: Number, defaults, oneofs,
 * arrays}) returns, the shape src/protocol/codec.ts has always had:
 * - encode: fields in field-number order; a field left out, null or undefined
 *   is not written; proto3 scalars without presence are not written at their
 *   default; presence fields (oneof members, `optional`) are written whenever
 *   set; repeated fields element by element (numeric ones packed); map entries
 *   as key 1 and value 2, always both. A `request_id` field (uint64) goes
 *   through src/protocol/request-id.ts's requestIdForWire first: a RangeError
 *   for a value that is not a uint64, and nothing to pay on other fields.
 * - decode: repeated fields [], maps {}, scalars their default and message
 *   fields null unless set; oneof members and `optional` fields only when set,
 *   each oneof's discriminator naming the member that is set (a later member
 *   replaces an earlier one); a message field seen twice is merged; unknown
 *   fields and fields of the wrong wire type are skipped; uint64 as a number
 *   (lo + hi * 2^32), except `request_id`, exact (number | bigint).
 * test/protocol/generated-codec.test.ts checks all of it against protobufjs.
 */
import protobuf from "protobufjs";

/** Scalar types the wire-io Reader/Writer implement, with their wire types; others fail generation loudly. */
const WIRE: Record<string, number> = { int32: 0, uint32: 0, uint64: 0, bool: 0, double: 1, string: 2, bytes: 2 };
const DEFAULTS: Record<string, string> = {
  int32: "0",
  uint32: "0",
  uint64: "0",
  bool: "false",
  double: "0",
  string: '""',
  bytes: "new Uint8Array(0)",
};

function allTypes(ns: protobuf.NamespaceBase, out: protobuf.Type[] = []): protobuf.Type[] {
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type) out.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) allTypes(n, out);
  }
  return out;
}

/** The generated function suffix of a type: its name inside the package, dots as underscores. */
function fnName(type: protobuf.Type, pkg: string): string {
  return type.fullName.slice(pkg.length + 2).replace(/\./g, "_");
}

function prop(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

function kind(field: protobuf.Field): { scalar: string } | { enum: protobuf.Enum } | { message: protobuf.Type } {
  field.resolve();
  if (field.resolvedType instanceof protobuf.Type) return { message: field.resolvedType };
  if (field.resolvedType instanceof protobuf.Enum) return { enum: field.resolvedType };
  if (!(field.type in WIRE))
    throw new Error(
      `${field.parent?.fullName}.${field.name}: type ${field.type} is not supported by src/protocol/wire-io.ts; add it there and to scripts/gen-codec.ts`,
    );
  return { scalar: field.type };
}

/** The writer method and wire type of a non-message field. */
function scalarOf(field: protobuf.Field): { method: string; wire: number } {
  const k = kind(field);
  if ("enum" in k) return { method: "int32", wire: 0 };
  if ("scalar" in k) return { method: k.scalar, wire: WIRE[k.scalar]! };
  throw new Error(`${field.name} is a message`);
}

function isRequestId(field: protobuf.Field): boolean {
  return field.name === "requestId" && field.type === "uint64";
}

function tag(field: protobuf.Field, wire: number): number {
  return ((field.id << 3) | wire) >>> 0;
}

function encoder(type: protobuf.Type, pkg: string): string[] {
  const out: string[] = [];
  out.push(`export function encode${fnName(type, pkg)}(m: Rec, w: Writer): void {`);
  const fields = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
  for (const field of fields) {
    const ref = `m${prop(field.name)}`;
    const k = kind(field);
    if (field instanceof protobuf.MapField) {
      if (field.keyType !== "string")
        throw new Error(`${type.fullName}.${field.name}: only string map keys are supported`);
      out.push(`  if (${ref} != null) {`);
      out.push(`    const o = ${ref} as Rec;`);
      out.push(`    for (const k of Object.keys(o)) {`);
      out.push(`      w.uint32(${tag(field, 2)});`);
      out.push(`      const s = w.fork();`);
      out.push(`      w.uint32(10);`);
      out.push(`      w.string(k);`);
      if ("message" in k) {
        out.push(`      w.uint32(18);`);
        out.push(`      const s2 = w.fork();`);
        out.push(`      encode${fnName(k.message, pkg)}(o[k] as Rec, w);`);
        out.push(`      w.ldelim(s2);`);
      } else {
        const { method, wire } = scalarOf(field);
        out.push(`      w.uint32(${16 | wire});`);
        out.push(`      w.${method}(o[k] as ${tsType(method)});`);
      }
      out.push(`      w.ldelim(s);`);
      out.push(`    }`);
      out.push(`  }`);
    } else if (field.repeated) {
      out.push(`  if (${ref} != null && (${ref} as unknown[]).length) {`);
      if ("message" in k) {
        out.push(`    for (const v of ${ref} as Rec[]) {`);
        out.push(`      w.uint32(${tag(field, 2)});`);
        out.push(`      const s = w.fork();`);
        out.push(`      encode${fnName(k.message, pkg)}(v, w);`);
        out.push(`      w.ldelim(s);`);
        out.push(`    }`);
      } else {
        const { method, wire } = scalarOf(field);
        const packed = field.packed && wire !== 2;
        if (packed) {
          out.push(`    w.uint32(${tag(field, 2)});`);
          out.push(`    const s = w.fork();`);
          out.push(`    for (const v of ${ref} as ${tsType(method)}[]) w.${method}(v);`);
          out.push(`    w.ldelim(s);`);
        } else {
          out.push(`    for (const v of ${ref} as ${tsType(method)}[]) {`);
          out.push(`      w.uint32(${tag(field, wire)});`);
          out.push(`      w.${method}(v);`);
          out.push(`    }`);
        }
      }
      out.push(`  }`);
    } else if ("message" in k) {
      out.push(`  if (${ref} != null) {`);
      out.push(`    w.uint32(${tag(field, 2)});`);
      out.push(`    const s = w.fork();`);
      out.push(`    encode${fnName(k.message, pkg)}(${ref} as Rec, w);`);
      out.push(`    w.ldelim(s);`);
      out.push(`  }`);
    } else if (isRequestId(field)) {
      // Checked and converted here, per field, so encoding costs nothing more for messages without one.
      out.push(
        `  const ${field.name} = requestIdForWire(${ref}, ${JSON.stringify(`${fnName(type, pkg)}.${field.name}`)});`,
      );
      const cond = field.hasPresence ? `${field.name} != null` : `${field.name} != null && ${field.name} !== 0`;
      out.push(`  if (${cond}) {`);
      out.push(`    w.uint32(${tag(field, 0)});`);
      out.push(`    w.uint64(${field.name});`);
      out.push(`  }`);
    } else {
      const { method, wire } = scalarOf(field);
      const v = `(${ref} as ${tsType(method)})`;
      let cond = `${ref} != null`;
      if (!field.hasPresence) {
        if ("enum" in k) cond += ` && ${ref} !== ${JSON.stringify(field.typeDefault)}`;
        else if (method === "bool") cond += ` && ${ref} !== false`;
        else if (method === "string") cond += ` && ${ref} !== ""`;
        else if (method === "bytes") cond += ` && ${v}.length`;
        else if (method === "double") cond += ` && !Object.is(${ref}, 0)`;
        else if (method === "uint64") cond += ` && nonZero64(${ref})`;
        else cond += ` && ${ref} !== 0`;
      }
      out.push(`  if (${cond}) {`);
      out.push(`    w.uint32(${tag(field, wire)});`);
      out.push(`    w.${method}(${v});`);
      out.push(`  }`);
    }
  }
  out.push(`}`);
  return out;
}

function tsType(method: string): string {
  switch (method) {
    case "string":
      return "string";
    case "bool":
      return "boolean";
    case "bytes":
      return "Uint8Array";
    case "uint64":
      return "Uint64In";
    default:
      return "number";
  }
}

function readExpr(field: protobuf.Field, method: string): string {
  return isRequestId(field) ? "r.uint64Exact()" : `r.${method}()`;
}

function decoder(type: protobuf.Type, pkg: string): string[] {
  const out: string[] = [];
  const byId = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
  // The key order of protobufjs's toObject: repeated fields, maps, then the other fields without presence.
  const defaults: string[] = [];
  for (const f of byId) if (!f.partOf && f.repeated) defaults.push(`${JSON.stringify(f.name)}: []`);
  for (const f of byId) if (!f.partOf && f.map) defaults.push(`${JSON.stringify(f.name)}: {}`);
  for (const f of byId) {
    if (f.partOf || f.repeated || f.map) continue;
    const k = kind(f);
    const value = "message" in k ? "null" : "enum" in k ? JSON.stringify(f.typeDefault) : DEFAULTS[k.scalar]!;
    defaults.push(`${JSON.stringify(f.name)}: ${value}`);
  }
  out.push(`export function decode${fnName(type, pkg)}(r: Reader, end: number, into?: Rec): Rec {`);
  out.push(`  const d: Rec = into ?? { ${defaults.join(", ")} };`);
  out.push(`  while (r.pos < end) {`);
  out.push(`    const t = r.uint32();`);
  if (byId.length) {
    out.push(`    switch (t >>> 3) {`);
    for (const field of byId) {
      const ref = `d${prop(field.name)}`;
      const k = kind(field);
      out.push(`      case ${field.id}: {`);
      if (field instanceof protobuf.MapField) {
        out.push(`        if ((t & 7) !== 2) break;`);
        out.push(`        const c = r.size() + r.pos;`);
        const { method, wire } = "message" in k ? { method: "", wire: 2 } : scalarOf(field);
        const init = "message" in k ? "null" : "enum" in k ? "0" : DEFAULTS[(k as { scalar: string }).scalar]!;
        out.push(`        let k = "";`);
        out.push(`        let v: unknown = ${init};`);
        out.push(`        while (r.pos < c) {`);
        out.push(`          const t2 = r.uint32();`);
        out.push(`          if (t2 >>> 3 === 1 && (t2 & 7) === 2) k = r.string();`);
        if ("message" in k) {
          out.push(`          else if (t2 >>> 3 === 2 && (t2 & 7) === 2) {`);
          out.push(`            const n = r.size();`);
          out.push(
            `            v = decode${fnName(k.message, pkg)}(r, r.pos + n, (v ?? undefined) as Rec | undefined);`,
          );
          out.push(`          }`);
        } else out.push(`          else if (t2 >>> 3 === 2 && (t2 & 7) === ${wire}) v = r.${method}();`);
        out.push(`          else r.skipType(t2 & 7, t2 >>> 3);`);
        out.push(`        }`);
        out.push(
          `        if (r.pos !== c) throw new RangeError("index out of range: a map entry overruns its length");`,
        );
        const value = "message" in k ? `v ?? decode${fnName(k.message, pkg)}(r, r.pos)` : "v";
        out.push(`        const o = ${ref} as Rec;`);
        out.push(
          `        if (k === "__proto__") Object.defineProperty(o, k, { value: ${value}, enumerable: true, writable: true, configurable: true });`,
        );
        out.push(`        else o[k] = ${value};`);
        out.push(`        continue;`);
      } else if (field.repeated) {
        if ("message" in k) {
          out.push(`        if ((t & 7) !== 2) break;`);
          out.push(`        const n = r.size();`);
          out.push(`        (${ref} as Rec[]).push(decode${fnName(k.message, pkg)}(r, r.pos + n));`);
        } else {
          const { method, wire } = scalarOf(field);
          if (wire !== 2) {
            // Packed or not, whatever the .proto says: both encodings are accepted (protobuf's rule).
            out.push(`        if ((t & 7) === 2) {`);
            out.push(`          const c = r.size() + r.pos;`);
            out.push(`          while (r.pos < c) (${ref} as unknown[]).push(r.${method}());`);
            out.push(`          continue;`);
            out.push(`        }`);
          }
          out.push(`        if ((t & 7) !== ${wire}) break;`);
          out.push(`        (${ref} as unknown[]).push(r.${method}());`);
        }
        out.push(`        continue;`);
      } else {
        const wire = "message" in k ? 2 : scalarOf(field).wire;
        out.push(`        if ((t & 7) !== ${wire}) break;`);
        const oneof = field.partOf && !field.partOf.name.startsWith("_") ? field.partOf.name : null;
        let value: string;
        if ("message" in k) {
          out.push(`        const n = r.size();`);
          value = `decode${fnName(k.message, pkg)}(r, r.pos + n, (${ref} ?? undefined) as Rec | undefined)`;
        } else value = readExpr(field, scalarOf(field).method);
        if (oneof) {
          const disc = `d${prop(oneof)}`;
          out.push(
            `        if (${disc} !== undefined && ${disc} !== ${JSON.stringify(field.name)}) delete d[${disc} as string];`,
          );
        }
        out.push(`        ${ref} = ${value};`);
        if (oneof) out.push(`        d${prop(oneof)} = ${JSON.stringify(field.name)};`);
        out.push(`        continue;`);
      }
      out.push(`      }`);
    }
    out.push(`    }`);
  }
  out.push(`    r.skipType(t & 7, t >>> 3);`);
  out.push(`  }`);
  out.push(`  if (r.pos !== end) throw new RangeError("index out of range: a field overruns its message");`);
  out.push(`  return d;`);
  out.push(`}`);
  return out;
}

/** The codec module of one parsed .proto, `pkg` its package. */
export function generateCodec(parsed: protobuf.Root, protoFile: string, pkg: string): string {
  const types = allTypes(parsed.lookup(pkg) as protobuf.Namespace);
  const out: string[] = [];
  out.push(
    `// GENERATED by scripts/gen-proto.ts (scripts/gen-codec.ts) from proto/${protoFile}. Do not edit by hand: run \`bun run gen\`.`,
  );
  out.push(
    `// Encoders and decoders per message over src/protocol/wire-io.ts; the contract is in scripts/gen-codec.ts.`,
  );
  const body: string[] = [];
  for (const type of types) {
    body.push(...encoder(type, pkg), "");
    body.push(...decoder(type, pkg), "");
  }
  const used = ["nonZero64", "type Reader", "type Uint64In", "type Writer"].filter((name) =>
    body.some((line) => line.includes(name.replace("type ", ""))),
  );
  out.push(`import { ${used.join(", ")} } from "../wire-io.ts";`);
  if (body.some((line) => line.includes("requestIdForWire(")))
    out.push(`import { requestIdForWire } from "../request-id.ts";`);
  out.push("");
  out.push(`type Rec = Record<string, unknown>;`);
  out.push("");
  out.push(...body);
  out.push(`/** Every message's encoder and decoder by name (tests walk them). */`);
  out.push(
    `export const CODECS: Record<string, { encode: (m: Rec, w: Writer) => void; decode: (r: Reader, end: number) => Rec }> = {`,
  );
  for (const type of types) {
    const n = fnName(type, pkg);
    out.push(`  ${JSON.stringify(n)}: { encode: encode${n}, decode: decode${n} },`);
  }
  out.push(`};`);
  out.push("");
  return out.join("\n");
}
