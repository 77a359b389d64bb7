/**
 * Wire compatibility with the original CrabTalk contract, against the
 * compiled daemon: a client whose schema is built only from
 * wire-reference.md (no request ids, one request at a time) gets its
 * answers and can decode them. The protos' field-by-field comparison with
 * the reference is a unit test: test/protocol/wire-compat.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type protobuf from "protobufjs";
import { readReference, referenceRoot } from "../helpers/reference-schema.ts";
import { startDaemon, type DaemonHandle } from "../helpers/daemon.ts";
import { frame, rawConnect } from "../helpers/raw-socket.ts";

describe("a client built from the reference talks to the daemon", () => {
  let daemon: DaemonHandle;
  let root: protobuf.Root;
  beforeAll(async () => {
    daemon = await startDaemon();
    root = referenceRoot(readReference("Client protocol"), "crabtalk.protocol");
  });
  afterAll(() => daemon.cleanup());

  test("Ping gets Pong; the reply decodes with the reference schema", async () => {
    const ClientMessage = root.lookupType("crabtalk.protocol.ClientMessage");
    const ServerMessage = root.lookupType("crabtalk.protocol.ServerMessage");
    const conn = await rawConnect({ unix: daemon.socket });
    conn.write(frame(ClientMessage.encode({ ping: {} }).finish()));
    const bytes = await conn.nextFrame();
    const reply = ServerMessage.toObject(ServerMessage.decode(bytes!), { oneofs: true }) as { msg?: string };
    expect(reply.msg).toBe("pong");
    // A reference client does not know about request ids, yet got its answer: one-at-a-time.
    conn.write(frame(ClientMessage.encode({ hub: { package: "x", action: 0 } }).finish()));
    const err = ServerMessage.toObject(ServerMessage.decode((await conn.nextFrame())!), { oneofs: true }) as {
      msg?: string;
      error?: { code: number; message: string };
    };
    expect(err.msg).toBe("error");
    expect(err.error!.code).toBe(501);
    expect(err.error!.message).toContain("hub");
    conn.close();
  });
});
