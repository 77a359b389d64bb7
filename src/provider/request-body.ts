/**
 * A request body as UTF-8 pieces sent one after another, for bodies whose
 * bulk is the encoded bytes of a conversation kept between requests (see
 * openai-chat.ts messagesPieces): the next request reuses those bytes
 * as they are instead of joining them into one string that fetch would
 * copy again to UTF-8 (2.4 MB per request for a 10,000-message history,
 * in fresh pages each time).
 *
 * Contract: the bytes on the wire are the pieces in order, framed by a
 * Content-Length of their total (never chunked: some model servers refuse
 * chunked request bodies), exactly as a string body of the same text would
 * be. Pieces are never changed once made; a body may be sent more than
 * once (retries), each time from a new stream over the same pieces.
 */

export interface PiecesBody {
  readonly pieces: readonly Uint8Array[];
  /** Total bytes of the pieces. */
  readonly bytes: number;
}

export type RequestBody = string | PiecesBody;

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function piecesBody(pieces: readonly Uint8Array[]): PiecesBody {
  let bytes = 0;
  for (const p of pieces) bytes += p.byteLength;
  return { pieces, bytes };
}

/**
 * A conversation's kept pieces are joined into one past this many (one
 * copy of its bytes every ~32 turns), so a long chat is not sent as
 * thousands of small writes.
 */
const MAX_PIECES = 32;

/**
 * `pieces` (comma-separated JSON values, without brackets) followed by
 * `json` (more of them), with a comma between when both hold something; a
 * list grown past MAX_PIECES is joined when it is to be kept (`keep`).
 */
export function withJson(pieces: readonly Uint8Array[], json: string, keep = true): readonly Uint8Array[] {
  if (json === "") return pieces;
  const next = [...pieces, utf8(pieces.length > 0 ? `,${json}` : json)];
  return keep && next.length > MAX_PIECES ? [joinPieces(next)] : next;
}

/** One piece holding all of them (a copy), for a list that has grown long. */
export function joinPieces(pieces: readonly Uint8Array[]): Uint8Array {
  const { bytes } = piecesBody(pieces);
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The body's text (tests, logs): what the server receives, decoded. */
export function bodyText(body: RequestBody): string {
  return typeof body === "string" ? body : new TextDecoder().decode(joinPieces(body.pieces));
}

/**
 * Bodies smaller than this go out as one joined buffer: copying a few
 * hundred KB costs less than a stream's handling, and such a body leaves
 * with its headers as a string body does, so a request cancelled right
 * after it starts is still whole at the server.
 */
const STREAM_MIN_BYTES = 256 * 1024;

/**
 * What fetch gets for one attempt: a string as it is; small pieces joined;
 * larger ones as a new stream over them with their Content-Length (with an
 * explicit length, Bun's fetch frames a stream body by it instead of
 * chunking it).
 */
export function fetchInit(
  body: RequestBody,
  headers: Record<string, string>,
): { body: string | Uint8Array | ReadableStream<Uint8Array>; headers: Record<string, string>; duplex?: "half" } {
  if (typeof body === "string") return { body, headers };
  if (body.bytes < STREAM_MIN_BYTES) return { body: joinPieces(body.pieces), headers };
  const { pieces } = body;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of pieces) controller.enqueue(p);
      controller.close();
    },
  });
  return { body: stream, headers: { ...headers, "content-length": String(body.bytes) }, duplex: "half" };
}
