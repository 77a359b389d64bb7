/** Request ids survive encode and decode exactly across the whole uint64 range, in one representation each. */
import { describe, expect, test } from "bun:test";
import { clientMessage, extRequest, extResponse, serverMessage } from "../../src/protocol/codec.ts";

/** A uint64 as protobuf varint bytes, written independently of the codec. */
function varint(value: bigint): number[] {
  const out: number[] = [];
  do {
    const low = Number(value & 0x7fn);
    value >>= 7n;
    out.push(value > 0n ? low | 0x80 : low);
  } while (value > 0n);
  return out;
}

const IDS: [string, bigint][] = [
  ["1", 1n],
  ["2^53 - 1", 2n ** 53n - 1n],
  ["2^53", 2n ** 53n],
  ["0x123456789abcdef1", 0x123456789abcdef1n],
  ["2^63", 2n ** 63n],
  ["2^64 - 1", 2n ** 64n - 1n],
];

describe("request ids", () => {
  for (const [name, id] of IDS) {
    test(`${name}: decoded exactly from hand-made bytes, re-encoded to the same bytes`, () => {
      // ClientMessage { ping: {} (field 3, empty), request_id (field 100, tag 0xa0 0x06) }
      const bytes = new Uint8Array([0x1a, 0x00, 0xa0, 0x06, ...varint(id)]);
      const decoded = clientMessage.decode(bytes);
      const expected = id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id;
      expect(decoded.requestId).toBe(expected);
      expect(decoded.msg).toBe("ping");
      const echoed = serverMessage.encode({ pong: {}, requestId: decoded.requestId });
      expect(Buffer.from(echoed).toString("hex")).toContain(Buffer.from([0xa0, 0x06, ...varint(id)]).toString("hex"));
      expect(serverMessage.decode(echoed).requestId).toBe(expected);
    });
  }

  test("the id inside Unsubscribe is exact too; a bigint in the safe range decodes as a number", () => {
    const big = 0xfedcba9876543210n;
    const decoded = clientMessage.decode(clientMessage.encode({ unsubscribe: { requestId: big }, requestId: 7n }));
    expect(decoded.unsubscribe!.requestId).toBe(big);
    expect(decoded.requestId).toBe(7);
  });

  test("encoding leaves the caller's message untouched", () => {
    const message = { unsubscribe: { requestId: 2n ** 60n }, requestId: 2n ** 61n };
    clientMessage.encode(message);
    expect(message).toEqual({ unsubscribe: { requestId: 2n ** 60n }, requestId: 2n ** 61n });
  });

  test("ids that are not a uint64, or numbers that already lost digits, are refused with how to fix it", () => {
    expect(() => clientMessage.encode({ ping: {}, requestId: 2 ** 60 })).toThrow("pass ids above 2^53 - 1 as a bigint");
    expect(() => clientMessage.encode({ ping: {}, requestId: -1 })).toThrow(RangeError);
    expect(() => clientMessage.encode({ ping: {}, requestId: 2n ** 64n })).toThrow("outside 0..2^64-1");
  });

  test("each request_id field is checked by its own generated encoder, the extension protocol's too", () => {
    expect(() => extRequest.encode({ requestId: -1 })).toThrow("ExtRequest.requestId -1 is not a non-negative");
    expect(() => extResponse.encode({ requestId: 2n ** 64n })).toThrow("ExtResponse.requestId");
    expect(() => clientMessage.encode({ unsubscribe: { requestId: 1.5 } })).toThrow("Unsubscribe.requestId 1.5");
    expect(extResponse.decode(extResponse.encode({ requestId: 2n ** 63n })).requestId).toBe(2n ** 63n);
  });

  test("a bigint 0 is the default, as 0 is: Unsubscribe's id (no presence) is not written", () => {
    expect(clientMessage.encode({ unsubscribe: { requestId: 0n } })).toEqual(clientMessage.encode({ unsubscribe: {} }));
  });
});
