/**
 * Request ids are uint64 on the wire and any value is the client's to
 * choose, but other uint64 fields decode into a double (see codec.ts), so
 * ids above 2^53 would come back as other numbers and 2^64 - 1 as none. The
 * generated decoders read every `request_id` exactly (Reader.uint64Exact)
 * and the generated encoders check and convert each one with
 * requestIdForWire, field by field (no walk over the message).
 *
 * Shape: a RequestId is a number while it is a safe integer and a bigint
 * above 2^53 - 1. Every id has exactly one representation, so `===`, Map
 * keys and Set membership work across decode and encode. Encoding accepts
 * either; a number that is not a non-negative safe integer is refused
 * (it has already lost digits), as is a bigint outside 0..2^64-1.
 */
export type RequestId = number | bigint;

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * A request id as the writer takes it, called by the generated encoders
 * (scripts/gen-codec.ts) for each `request_id` field and no other: a number
 * (bigints in the safe range become numbers, so 0n is a default like 0), or
 * a bigint above 2^53 - 1; undefined and null pass through (not written).
 * Throws RangeError, naming `where`, for anything that is not a uint64.
 */
export function requestIdForWire(value: unknown, where: string): number | bigint | undefined | null {
  if (value === undefined || value === null) return value;
  if (typeof value === "bigint") {
    if (value < 0n || value > UINT64_MAX) throw new RangeError(`${where} ${value} is outside 0..2^64-1`);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw new RangeError(
    `${where} ${String(value)} is not a non-negative safe integer; pass ids above 2^53 - 1 as a bigint`,
  );
}
