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
 * What fetch gets for one attempt: a string as it is; pieces as a new
 * stream over them with their Content-Length (with an explicit length,
 * Bun's fetch frames a stream body by it instead of chunking it).
 */
export function fetchInit(
  body: RequestBody,
  headers: Record<string, string>,
): { body: string | ReadableStream<Uint8Array>; headers: Record<string, string>; duplex?: "half" } {
  if (typeof body === "string") return { body, headers };
  const { pieces } = body;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of pieces) controller.enqueue(p);
      controller.close();
    },
  });
  return { body: stream, headers: { ...headers, "content-length": String(body.bytes) }, duplex: "half" };
}
