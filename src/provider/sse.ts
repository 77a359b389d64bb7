/**
 * Incremental Server-Sent Events parser, shared by every wire API. It takes
 * bytes exactly as the network hands them over (any read boundary, even in
 * the middle of a UTF-8 sequence or between the CR and LF of one line end)
 * and yields complete events. It follows the WHATWG event-stream rules:
 * events end at a blank line; lines end with LF, CRLF or CR; `:` lines are
 * comments; `data:` lines of one event are joined with "\n"; one space
 * after the colon is dropped.
 *
 * Deviation from the spec, on purpose: `finish()` dispatches an event that
 * was still open when the body ended. Real providers (Groq's `event: error`)
 * close the connection without the final blank line, and losing the one
 * event that explains the failure helps nobody.
 */

export interface SseEvent {
  /** The `event:` field, undefined when the event had none. */
  event: string | undefined;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The `id:` field, when present. */
  id?: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  /** Text after the last complete line end. */
  private pending = "";
  /** The event's data so far; undefined until its first `data:` line. */
  private data: string | undefined;
  private eventType: string | undefined;
  private eventId: string | undefined;
  /** Comment lines seen so far (keep-alives); useful to tests and metrics. */
  comments = 0;

  /** Feeds one network read; returns the events it completed, in order. */
  push(chunk: Uint8Array | string): SseEvent[] {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    this.feed(text, false, out);
    return out;
  }

  /** The body ended: flushes the last line and any event left open. */
  finish(): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.decode(), true, out);
    if (this.pending.length > 0) {
      this.line(this.pending, out);
      this.pending = "";
    }
    this.dispatch(out);
    return out;
  }

  private feed(text: string, final: boolean, out: SseEvent[]): void {
    const buf = this.pending.length > 0 ? this.pending + text : text;
    let pos = 0;
    // CR line ends are rare; scan for them only when the buffer has one, and
    // remember the next one so the scan stays linear.
    let cr = buf.indexOf("\r");
    for (;;) {
      const lf = buf.indexOf("\n", pos);
      if (cr !== -1 && cr < pos) cr = buf.indexOf("\r", pos);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR as the last character may be the first half of a CRLF split
        // across two reads: wait for the next read to decide.
        if (cr === buf.length - 1 && !final) break;
        end = cr;
        next = buf.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      // Fast path for the line nearly every event is made of: one slice, no field parsing.
      if (end - pos >= 6 && buf.startsWith("data: ", pos)) this.addData(buf.slice(pos + 6, end));
      else this.line(buf.slice(pos, end), out);
      pos = next;
    }
    this.pending = pos === 0 ? buf : buf.slice(pos);
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) return this.dispatch(out);
    const colon = line.indexOf(":");
    if (colon === 0) {
      this.comments++;
      return;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "data":
        this.addData(value);
        return;
      case "event":
        this.eventType = value;
        return;
      case "id":
        this.eventId = value;
        return;
      default:
        // `retry:` and unknown fields carry nothing a model stream needs.
        return;
    }
  }

  private addData(value: string): void {
    this.data = this.data === undefined ? value : `${this.data}\n${value}`;
  }

  private dispatch(out: SseEvent[]): void {
    const data = this.data;
    if (data === undefined) {
      // Per spec an event without data is not dispatched, but its type is reset.
      this.eventType = undefined;
      return;
    }
    const ev: SseEvent = { event: this.eventType, data };
    if (this.eventId !== undefined) ev.id = this.eventId;
    out.push(ev);
    this.data = undefined;
    this.eventType = undefined;
  }
}

/** Parses a whole body at once (tests and benchmarks). */
export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.finish()];
}
