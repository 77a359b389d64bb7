/**
 * Request ids are uint64 on the wire and any value is the client's to
 * choose, but other uint64 fields decode into a double (see codec.ts), so
 * ids above 2^53 would come back as other numbers and 2^64 - 1 as none. The
 * generated decoders read every `request_id` exactly (Reader.uint64Exact);
 * this file checks and converts them for encoding.
 *
 * Shape: a RequestId is a number while it is a safe integer and a bigint
 * above 2^53 - 1. Every id has exactly one representation, so `===`, Map
 * keys and Set membership work across decode and encode. Encoding accepts
 * either; a number that is not a non-negative safe integer is refused
 * (it has already lost digits), as is a bigint outside 0..2^64-1.
 */
export type RequestId = number | bigint;

const UINT64_MAX = (1n << 64n) - 1n;

/** Where a request id field sits: property names for the decoded object, field numbers for the bytes. */
export interface RequestIdPath {
  props: readonly string[];
  fields: readonly number[];
}

/** An id as the writer takes it (wire-io.ts Uint64In): a number, or the low/high words of a uint64. */
function toWireRequestId(value: unknown, where: string): unknown {
  if (typeof value === "bigint") {
    if (value < 0n || value > UINT64_MAX) throw new RangeError(`${where} ${value} is outside 0..2^64-1`);
    if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
    return { low: Number(value & 0xffffffffn) | 0, high: Number(value >> 32n) | 0, unsigned: true };
  }
  if (typeof value === "number" && !(Number.isSafeInteger(value) && value >= 0))
    throw new RangeError(`${where} ${value} is not a non-negative safe integer; pass ids above 2^53 - 1 as a bigint`);
  return value;
}

/** Returns `message` with each id at `paths` in writer form, copying only the objects on those paths. */
export function requestIdsForWire<T>(message: T, paths: readonly RequestIdPath[]): T {
  let out = message as Record<string, unknown>;
  for (const { props } of paths) {
    const holders: Record<string, unknown>[] = [out];
    for (const prop of props.slice(0, -1)) {
      const next = holders[holders.length - 1]![prop];
      if (typeof next !== "object" || next === null) break;
      holders.push(next as Record<string, unknown>);
    }
    if (holders.length !== props.length) continue;
    const last = props[props.length - 1]!;
    const value = holders[holders.length - 1]![last];
    if (value === undefined || value === null) continue;
    const wire = toWireRequestId(value, props.join("."));
    if (wire === value) continue;
    // Rebuild the path bottom-up from copies, so the caller's object is untouched.
    let replaced: unknown = wire;
    for (let i = holders.length - 1; i >= 0; i--) {
      replaced = { ...holders[i]!, [i === holders.length - 1 ? last : props[i]!]: replaced };
    }
    out = replaced as Record<string, unknown>;
  }
  return out as T;
}
