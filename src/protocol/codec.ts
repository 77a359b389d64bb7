/**
 * Encoding and decoding of the two wire protocols, with the codecs generated
 * ahead of time in ./gen/*-codec.ts (scripts/gen-proto.ts): plain functions
 * over a small varint reader and writer (wire-io.ts), no reflection, no code
 * generated at run time and no protobufjs, so a process pays nothing to build
 * them (issue 20) and the bytes are protobufjs's own (test/protocol/
 * generated-codec.test.ts compares every message type with it).
 *
 * Decoded messages are plain objects in the shape the generated interfaces
 * describe: uint64 as number (session ids and counters stay far below 2^53)
 * except request ids, which are the client's to choose and stay exact
 * (RequestId: a number when safe, a bigint above; see request-id.ts),
 * proto3 defaults filled in, oneof discriminators set. Encoding accepts the
 * same shape with any field left out (`Init<T>`).
 */
import { CODECS as CLIENT_CODECS } from "./gen/crabtalk-codec.ts";
import type { ClientMessage, ServerMessage } from "./gen/crabtalk.ts";
import { CODECS as EXT_CODECS } from "./gen/ext-codec.ts";
import type { ExtRequest, ExtResponse } from "./gen/ext.ts";
import { Reader, Writer } from "./wire-io.ts";

/** Encoding input: every field optional, recursively. */
export type Init<T> = T extends Uint8Array
  ? T
  : T extends (infer U)[]
    ? Init<U>[]
    : T extends object
      ? { [K in keyof T]?: Init<T[K]> }
      : T;

type Generated = (typeof CLIENT_CODECS)[string];

/** One writer for every encode: encoding is synchronous, and finish() hands out a copy. */
const writer = new Writer();

function codec<In, Out>(generated: Generated) {
  return {
    /** Throws RangeError for a request id that is not a uint64 (or a number that already lost digits). */
    encode(message: Init<In>): Uint8Array {
      writer.pos = 0;
      generated.encode(message as Record<string, unknown>, writer);
      return writer.finish();
    },
    /** Throws on bytes that are not a valid message of this type. */
    decode(bytes: Uint8Array): Out {
      return generated.decode(new Reader(bytes), bytes.length) as Out;
    },
  };
}

/** Client to daemon. */
export const clientMessage = codec<ClientMessage, ClientMessage>(CLIENT_CODECS.ClientMessage!);
/** Daemon to client. */
export const serverMessage = codec<ServerMessage, ServerMessage>(CLIENT_CODECS.ServerMessage!);
/** Daemon to extension. */
export const extRequest = codec<ExtRequest, ExtRequest>(EXT_CODECS.ExtRequest!);
/** Extension to daemon. */
export const extResponse = codec<ExtResponse, ExtResponse>(EXT_CODECS.ExtResponse!);

/** Bumped when the protocol changes in a way a client may need to know. */
export const PROTOCOL_VERSION = 1;
