/**
 * Drives one streamed request for any wire API: open the HTTP stream (with
 * retries), feed every network read through the SSE parser into the wire
 * normalizer, and guarantee the stream contract of types.ts: the returned
 * iterable never throws and ends with exactly one terminal event.
 *
 * `start` is emitted once the provider has committed to an answer (a 2xx
 * status); a request refused before that ends with a lone `error` event.
 */
import { EventStream } from "../util/event-stream.ts";
import { errorMessage } from "../util/abort.ts";
import { redact } from "../util/redact.ts";
import { streamPacer } from "../util/collect.ts";
import { openStream, StreamFailure, type HttpOptions } from "./http.ts";
import { SseParser, type SseEvent } from "./sse.ts";
import type { Emit, TurnBuilder } from "./turn.ts";
import type { ProviderEvent } from "./types.ts";

/** What a wire file supplies: turns SSE events into TurnBuilder calls. */
export interface WireNormalizer {
  readonly turn: TurnBuilder;
  /** One SSE event; may finish the turn (terminator or in-stream error). */
  handle(event: SseEvent): void;
  /** The body ended; finishes the turn if the events did not. */
  end(): void;
}

export interface StreamSpec {
  url: string;
  headers: Record<string, string>;
  /** Built inside the stream's guard, so a request that cannot be serialized becomes an error event. */
  body: () => string;
  http: HttpOptions;
  normalizer: (emit: Emit) => WireNormalizer;
}

export function runStream(spec: StreamSpec, signal?: AbortSignal): EventStream<ProviderEvent> {
  const stream = new EventStream<ProviderEvent>();
  const norm = spec.normalizer((event) => stream.push(event));
  void (async () => {
    try {
      const opened = await openStream(spec.url, spec.headers, spec.body(), spec.http, signal);
      if (!opened.ok) return norm.turn.fail(opened.error, opened.aborted);
      norm.turn.start();
      const parser = new SseParser();
      for await (const chunk of opened.chunks) {
        streamPacer.note(chunk.byteLength);
        for (const event of parser.push(chunk)) {
          norm.handle(event);
          if (norm.turn.finished) break;
        }
        // Stop reading after the terminal event; leaving the loop closes the socket.
        if (norm.turn.finished || stream.ended) break;
        // Backpressure: a loopback model sends faster than a turn publishes; unread bytes wait in the socket, not as events.
        await stream.room();
      }
      if (!norm.turn.finished) {
        for (const event of parser.finish()) norm.handle(event);
        norm.end();
      }
    } catch (err) {
      if (err instanceof StreamFailure) norm.turn.fail(err.error, err.aborted);
      else
        norm.turn.fail(
          { message: redact(errorMessage(err), spec.http.secrets), code: "internal_error", retryable: false },
          false,
        );
    } finally {
      stream.end();
    }
  })();
  return stream;
}
