/**
 * Encoding and decoding of the two wire protocols, built on the generated
 * descriptors in ./gen (protobufjs reflection, no .proto parser at run time).
 *
 * Decoded messages are plain objects in the shape the generated interfaces
 * describe: uint64 as number (session ids and counters stay far below 2^53)
 * except request ids, which are the client's to choose and stay exact
 * (RequestId: a number when safe, a bigint above; see request-id.ts),
 * proto3 defaults filled in, oneof discriminators set. Encoding accepts the
 * same shape with any field left out (`Init<T>`).
 */
import protobuf from "protobufjs/light.js";
import { descriptor as clientDescriptor } from "./gen/crabtalk.ts";
import type { ClientMessage, ServerMessage } from "./gen/crabtalk.ts";
import { descriptor as extDescriptor } from "./gen/ext.ts";
import type { ExtRequest, ExtResponse } from "./gen/ext.ts";
import { exactRequestIds, type RequestIdPath, requestIdsForWire } from "./request-id.ts";

// uint64 as plain numbers instead of Long objects: every 64-bit value on this
// wire is an id, a count or a timestamp in milliseconds.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

/** Encoding input: every field optional, recursively. */
export type Init<T> = T extends Uint8Array
  ? T
  : T extends (infer U)[]
    ? Init<U>[]
    : T extends object
      ? { [K in keyof T]?: Init<T[K]> }
      : T;

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
};

/**
 * A codec whose protobufjs reflection is built on its first use, not at
 * import: building the whole protocol's types is most of what a process pays
 * for loading this module (about 10 ms cold), and the daemon accepts on its
 * socket before any frame needs decoding (issue 20, bench/startup.ts).
 */
function codec<In, Out>(root: () => protobuf.Root, name: string, requestIds: readonly RequestIdPath[] = []) {
  let type: protobuf.Type | null = null;
  const typeOf = (): protobuf.Type => (type ??= root().lookupType(name));
  return {
    /** Throws RangeError for a request id that is not a uint64 (or a number that already lost digits). */
    encode(message: Init<In>): Uint8Array {
      return typeOf()
        .encode(requestIdsForWire(message, requestIds) as Record<string, unknown>)
        .finish();
    },
    /** Throws on bytes that are not a valid message of this type. */
    decode(bytes: Uint8Array): Out {
      const t = typeOf();
      const decoded = t.toObject(t.decode(bytes), TO_OBJECT);
      exactRequestIds(decoded, bytes, requestIds);
      return decoded as Out;
    },
  };
}

/**
 * A descriptor's types, each resolving its own fields when first used:
 * Root.fromJSON would also resolve every field of every type up front
 * (resolveAll), a third of the cold cost, for types a process may never
 * touch. Same wire bytes and decoded shapes for every type (test/protocol/
 * lazy-root.test.ts compares it with Root.fromJSON).
 */
export function buildRoot(descriptor: unknown): protobuf.Root {
  const json = descriptor as protobuf.INamespace;
  const root = new protobuf.Root();
  if (json.options) root.setOptions(json.options);
  root.addJSON(json.nested ?? {});
  return root;
}

/** Builds a descriptor's root once, when a codec of it is first used. */
function lazyRoot(descriptor: unknown): () => protobuf.Root {
  let root: protobuf.Root | null = null;
  return () => (root ??= buildRoot(descriptor));
}

/** ClientMessage.request_id (100), Unsubscribe.request_id (ClientMessage field 31, then 1), ServerMessage.request_id (100). */
const REQUEST_ID: RequestIdPath = { props: ["requestId"], fields: [100] };
const UNSUBSCRIBED_ID: RequestIdPath = { props: ["unsubscribe", "requestId"], fields: [31, 1] };

const clientRoot = lazyRoot(clientDescriptor);
const extRoot = lazyRoot(extDescriptor);

/** Client to daemon. */
export const clientMessage = codec<ClientMessage, ClientMessage>(clientRoot, "crabtalk.protocol.ClientMessage", [
  REQUEST_ID,
  UNSUBSCRIBED_ID,
]);
/** Daemon to client. */
export const serverMessage = codec<ServerMessage, ServerMessage>(clientRoot, "crabtalk.protocol.ServerMessage", [
  REQUEST_ID,
]);
/** Daemon to extension. */
export const extRequest = codec<ExtRequest, ExtRequest>(extRoot, "crabtalk.ext.ExtRequest");
/** Extension to daemon. */
export const extResponse = codec<ExtResponse, ExtResponse>(extRoot, "crabtalk.ext.ExtResponse");

/** Bumped when the protocol changes in a way a client may need to know. */
export const PROTOCOL_VERSION = 1;
