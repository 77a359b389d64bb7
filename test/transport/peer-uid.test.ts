/** The /proc/net/tcp and tcp6 owner lookup: hex address forms, row matching, and "unknown" whenever in doubt. */
import { expect, test } from "bun:test";
import { findSocketUid, ipv6Hex, isLoopback, peerUidFromTables } from "../../src/transport/peer-uid.ts";

// Rows shaped like /proc/net/tcp: a listener on 6688 (0x1A20), a client 127.0.0.1:40000 (0x9C40) -> 6688 owned by uid 1000, and the daemon's accepted end.
const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1A20 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
   1: 0100007F:9C40 0100007F:1A20 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1
   2: 0100007F:1A20 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0 20 4 30 10 -1
`;

test("the client's row names its owner", () => {
  expect(findSocketUid(TABLE, "127.0.0.1", 40000, 6688)).toBe(1000);
  expect(findSocketUid(TABLE, "127.0.0.1", 40001, 6688)).toBeUndefined();
  expect(findSocketUid(TABLE, "127.0.0.2", 40000, 6688)).toBeUndefined();
});

test("loopback addresses", () => {
  expect(isLoopback("127.0.0.1")).toBe(true);
  expect(isLoopback("::ffff:127.0.0.1")).toBe(true);
  expect(isLoopback("::1")).toBe(true);
  expect(isLoopback("10.0.0.1")).toBe(false);
});

// Rows shaped like /proc/net/tcp6: the 32 hex digits are four 32-bit words, each in little-endian byte order.
// A client [::1]:40000 -> [::1]:6688 owned by uid 1001, and one ::ffff:127.0.0.1:40002 -> 6688 owned by uid 1002.
const TABLE6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1A20 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:1A20 01 00000000:00000000 00:00000000 00000000  1001        0 222 1 0 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:9C42 0000000000000000FFFF00000100007F:1A20 01 00000000:00000000 00:00000000 00000000  1002        0 333 1 0 20 4 30 10 -1
`;

test("IPv6 addresses in the tcp6 hex form", () => {
  expect(ipv6Hex("::1")).toBe("00000000000000000000000001000000");
  expect(ipv6Hex("::ffff:127.0.0.1")).toBe("0000000000000000FFFF00000100007F");
  expect(ipv6Hex("fd00::2")).toBe("000000FD000000000000000002000000");
  expect(ipv6Hex("0:0:0:0:0:0:0:1")).toBe(ipv6Hex("::1"));
});

test("an IPv6 loopback client's owner is read from tcp6", () => {
  const tables = { tcp: TABLE, tcp6: TABLE6 };
  expect(peerUidFromTables(tables, "::1", 40000, 6688)).toBe(1001);
  expect(peerUidFromTables(tables, "::1", 40001, 6688)).toBeUndefined();
  // An IPv4 client of a dual-stack listener shows up mapped; its socket may be in either table.
  expect(peerUidFromTables(tables, "::ffff:127.0.0.1", 40000, 6688)).toBe(1000);
  expect(peerUidFromTables(tables, "::ffff:127.0.0.1", 40002, 6688)).toBe(1002);
  expect(peerUidFromTables(tables, "127.0.0.1", 40002, 6688)).toBe(1002);
});

test("unknown stays unknown: no table, no row, a non-loopback peer, or rows that disagree", () => {
  expect(peerUidFromTables({ tcp: undefined, tcp6: undefined }, "127.0.0.1", 40000, 6688)).toBeUndefined();
  expect(peerUidFromTables({ tcp: TABLE, tcp6: undefined }, "::1", 40000, 6688)).toBeUndefined();
  expect(peerUidFromTables({ tcp: TABLE, tcp6: TABLE6 }, "192.0.2.2", 40000, 6688)).toBeUndefined();
  const twoOwners = `${TABLE}   3: 0100007F:9C40 0100007F:1A20 01 00000000:00000000 00:00000000 00000000  1005        0 444 1 0 20 4 30 10 -1\n`;
  expect(findSocketUid(twoOwners, "127.0.0.1", 40000, 6688)).toBeUndefined();
});

test("IPv6 loopback spellings count as loopback; others do not", () => {
  expect(isLoopback("0:0:0:0:0:0:0:1")).toBe(true);
  expect(isLoopback("::ffff:127.0.0.9")).toBe(true);
  expect(isLoopback("::ffff:10.0.0.1")).toBe(false);
  expect(isLoopback("fd00::2")).toBe(false);
  expect(isLoopback("not an address")).toBe(false);
});
