import { expect, test } from "bun:test";
import { findSocketUid, isLoopback } from "../../src/transport/peer-uid.ts";

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
