/**
 * The varint reader and writer the generated codecs (src/protocol/gen/*-codec.ts,
 * written by scripts/gen-proto.ts) run on: no reflection, no generated code
 * at run time, no protobufjs. Contract: the same bytes protobufjs's Writer
 * writes and the same values its Reader reads (configured as codec.ts always
 * configured it: 64-bit integers as numbers, lo + hi * 2^32), checked by
 * test/protocol/generated-codec.test.ts against protobufjs itself.
 *
 * Strings are UTF-8 as TextEncoder writes them: a lone surrogate becomes
 * U+FFFD (protobufjs writes it so too for strings of 40 characters and more).
 */

const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder();
const SCRATCH = new DataView(new ArrayBuffer(8));
const TWO_32 = 4294967296;
/** A writer's buffer above this is dropped after each message, so one huge message does not stay resident. */
const KEEP_BYTES = 1 << 20;

/** A uint64 as the encoders accept it: a number, a bigint, or protobufjs's {low, high} (request-id.ts). */
export type Uint64In = number | bigint | { low: number; high: number };

/** Whether a uint64 without presence is worth writing (protobufjs's test: {low, high} by its words, anything else !== 0). */
export function nonZero64(value: unknown): boolean {
  if (typeof value === "object" && value !== null) {
    const { low, high } = value as { low: number; high: number };
    return Boolean(low || high);
  }
  return value !== 0;
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Appends protobuf wire data to one growing buffer; `finish` copies the message out and resets. */
export class Writer {
  buf = new Uint8Array(1024);
  pos = 0;

  private grow(need: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  uint32(value: number): void {
    let v = value >>> 0;
    if (this.pos + 5 > this.buf.length) this.grow(5);
    const buf = this.buf;
    while (v > 127) {
      buf[this.pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  /** Negative values take ten bytes (sign-extended to 64 bits), as protobuf requires. */
  int32(value: number): void {
    if (value < 0) this.varint64(value >>> 0, 0xffffffff);
    else this.uint32(value);
  }

  private varint64(lo: number, hi: number): void {
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const buf = this.buf;
    while (hi) {
      buf[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      buf[this.pos++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  /** protobufjs's LongBits.from: numbers split into 32-bit words (negatives two's complement), bigints exactly. */
  uint64(value: Uint64In): void {
    if (typeof value === "number") {
      if (value >= 0 && value < TWO_32) {
        this.varint64(value >>> 0, 0);
        return;
      }
      const sign = value < 0;
      if (sign) value = -value;
      let lo = value >>> 0;
      let hi = ((value - lo) / TWO_32) >>> 0;
      if (sign) {
        hi = ~hi >>> 0;
        lo = ~lo >>> 0;
        if (++lo > 0xffffffff) {
          lo = 0;
          if (++hi > 0xffffffff) hi = 0;
        }
      }
      this.varint64(lo, hi);
    } else if (typeof value === "bigint") {
      this.varint64(Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn));
    } else {
      this.varint64(value.low >>> 0, value.high >>> 0);
    }
  }

  bool(value: boolean): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  double(value: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    SCRATCH.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.buf[this.pos++] = SCRATCH.getUint8(i);
  }

  string(value: string): void {
    const n = value.length;
    // Short ASCII (most names, ids and deltas' words) is written by hand; anything else by TextEncoder.
    if (n < 128) {
      if (this.pos + 1 + n > this.buf.length) this.grow(1 + n);
      const buf = this.buf;
      const start = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + 1 + i] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.pos = start + 1 + n;
        return;
      }
    }
    const max = n * 3;
    const prefix = varintSize(max);
    if (this.pos + prefix + max > this.buf.length) this.grow(prefix + max);
    const start = this.pos;
    const written = TEXT_ENCODER.encodeInto(value, this.buf.subarray(start + prefix)).written;
    const real = varintSize(written);
    if (real !== prefix) this.buf.copyWithin(start + real, start + prefix, start + prefix + written);
    this.pos = start;
    this.uint32(written);
    this.pos = start + real + written;
  }

  bytes(value: Uint8Array): void {
    this.uint32(value.length);
    if (this.pos + value.length > this.buf.length) this.grow(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Reserves a one-byte length for a nested message; `ldelim(fork())` writes the real length. */
  fork(): number {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    return this.pos++;
  }

  /** Writes the length of the message begun at `start` (a fork), moving it if the length needs more than a byte. */
  ldelim(start: number): void {
    const length = this.pos - start - 1;
    if (length < 128) {
      this.buf[start] = length;
      return;
    }
    const size = varintSize(length);
    if (this.pos + size > this.buf.length) this.grow(size);
    this.buf.copyWithin(start + size, start + 1, this.pos);
    this.pos = start;
    this.uint32(length);
    this.pos = start + size + length;
  }

  /** The bytes written since the last finish, as their own copy. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = new Uint8Array(1024);
    return out;
  }
}

function outOfRange(reader: Reader, need: number): RangeError {
  return new RangeError(`index out of range: ${reader.pos} + ${need} > ${reader.len} (truncated or not a message)`);
}

/** Reads protobuf wire data from one buffer; every read checks the bounds. */
export class Reader {
  pos = 0;
  len: number;
  constructor(readonly buf: Uint8Array) {
    this.len = buf.length;
  }

  uint32(): number {
    const buf = this.buf;
    let b = buf[this.pos++]!;
    let value = b & 127;
    if (b >= 128) {
      b = buf[this.pos++]!;
      value |= (b & 127) << 7;
      if (b >= 128) {
        b = buf[this.pos++]!;
        value |= (b & 127) << 14;
        if (b >= 128) {
          b = buf[this.pos++]!;
          value |= (b & 127) << 21;
          if (b >= 128) {
            b = buf[this.pos++]!;
            value |= (b & 15) << 28;
            // A longer varint (a negative int32 written as 64 bits): its last five bytes carry nothing here.
            if (b >= 128) this.pos += 5;
          }
        }
      }
    }
    if (this.pos > this.len) throw outOfRange(this, 0);
    return value >>> 0;
  }

  int32(): number {
    return this.uint32() | 0;
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  /** A varint as its two 32-bit words. */
  private words(): [number, number] {
    let lo = 0;
    let hi = 0;
    let i = 0;
    const buf = this.buf;
    for (; i < 4; i++) {
      const b = buf[this.pos++]!;
      lo = (lo | ((b & 127) << (i * 7))) >>> 0;
      if (b < 128) return this.checked(lo, hi);
    }
    let b = buf[this.pos++]!;
    lo = (lo | ((b & 127) << 28)) >>> 0;
    hi = (hi | ((b & 127) >> 4)) >>> 0;
    if (b < 128) return this.checked(lo, hi);
    for (i = 0; i < 5; i++) {
      b = buf[this.pos++]!;
      hi = (hi | ((b & 127) << (i * 7 + 3))) >>> 0;
      if (b < 128) return this.checked(lo, hi);
    }
    throw new Error(`invalid varint encoding at offset ${this.pos}`);
  }

  private checked(lo: number, hi: number): [number, number] {
    if (this.pos > this.len) throw outOfRange(this, 0);
    return [lo, hi];
  }

  /** A uint64 as a number (lo + hi * 2^32, rounded above 2^53: counters, sizes and times stay far below). */
  uint64(): number {
    const [lo, hi] = this.words();
    return lo + hi * TWO_32;
  }

  /** A uint64 exactly: a number while safe, a bigint above 2^53 - 1 (request ids, see request-id.ts). */
  uint64Exact(): number | bigint {
    const [lo, hi] = this.words();
    if (hi < 0x200000) return lo + hi * TWO_32;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  double(): number {
    if (this.pos + 8 > this.len) throw outOfRange(this, 8);
    for (let i = 0; i < 8; i++) SCRATCH.setUint8(i, this.buf[this.pos + i]!);
    this.pos += 8;
    return SCRATCH.getFloat64(0, true);
  }

  /** A length prefix, checked against the bytes left. */
  size(): number {
    const n = this.uint32();
    if (this.pos + n > this.len) throw outOfRange(this, n);
    return n;
  }

  string(): string {
    const n = this.size();
    const buf = this.buf;
    const start = this.pos;
    this.pos += n;
    if (n < 64) {
      let out = "";
      for (let i = start; i < start + n; i++) {
        const c = buf[i]!;
        if (c >= 0x80) return TEXT_DECODER.decode(buf.subarray(start, start + n));
        out += String.fromCharCode(c);
      }
      return out;
    }
    return TEXT_DECODER.decode(buf.subarray(start, start + n));
  }

  /** Bytes as a view on the input (not a copy), as protobufjs's Reader returns them. */
  bytes(): Uint8Array {
    const n = this.size();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Skips a field of the given wire type (an unknown field, or a known one with the wrong wire type). */
  skipType(wireType: number, field = 0): void {
    switch (wireType) {
      case 0:
        this.words();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.size(); // read before adding: `pos += size()` would add to the old pos
        this.pos += n;
        return;
      }
      case 3:
        // A group (proto2): fields up to its end tag, which must carry the group's field number.
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === 4) {
            if (field && tag >>> 3 !== field) throw new Error(`invalid end group tag at offset ${this.pos}`);
            return;
          }
          this.skipType(tag & 7, tag >>> 3);
        }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
    if (this.pos > this.len) throw outOfRange(this, 0);
  }
}
