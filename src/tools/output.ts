/**
 * Command output with a byte cap that keeps the head and the tail: the start
 * of a log says what ran, the end says how it finished. Memory stays bounded
 * by the cap however much a command prints.
 */

export class CappedOutput {
  private readonly headCap: number;
  private readonly tailCap: number;
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private tail: Uint8Array[] = [];
  private tailBytes = 0;
  private total = 0;

  /** `maxBytes` is split evenly between head and tail. */
  constructor(maxBytes: number) {
    this.headCap = Math.ceil(maxBytes / 2);
    this.tailCap = Math.floor(maxBytes / 2);
  }

  get totalBytes(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.headCap) {
      const take = Math.min(rest.length, this.headCap - this.headBytes);
      this.head.push(rest.slice(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest.slice());
    this.tailBytes += rest.length;
    // Drop whole chunks that lie entirely before the last tailCap bytes.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.tailCap) {
      this.tailBytes -= this.tail.shift()!.length;
    }
  }

  /**
   * The output as text. When over the cap: head, a line saying how many
   * bytes were cut from the middle, then the tail.
   */
  text(): string {
    const decoder = new TextDecoder();
    const head = decoder.decode(concat(this.head));
    if (this.total <= this.headCap + this.tailCap) return head + decoder.decode(concat(this.tail));
    const tailAll = concat(this.tail);
    const tail = tailAll.subarray(tailAll.length - this.tailCap);
    const cut = this.total - this.headBytes - tail.length;
    const note = `\n[... ${cut} bytes cut from the middle of ${this.total} bytes of output; redirect the output to a file and read or grep it to see everything ...]\n`;
    return head + note + decoder.decode(tail);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
