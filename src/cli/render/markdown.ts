/**
 * Streaming Markdown-ish formatting of an answer as it arrives: headings
 * and **bold** in bold, `inline code` and fenced code blocks in colour,
 * list bullets as "•", quotes behind a bar, rules as a line. Text is
 * written as soon as it is unambiguous: only the start of a line (until it
 * is known whether it opens a heading, list, quote, rule or fence) and a
 * lone "*" (until it is known whether it is half of "**") are held back,
 * so nothing is ever printed twice or rewritten. With colour off the text
 * passes through unchanged: plain output is the model's own Markdown.
 */
import type { Style } from "./style.ts";

/** A line start that may still become a block marker: indentation then up to 6 '#', 3 '`', a run of -*+_, '>', or "12." */
const MAYBE_MARKER = /^[ \t]*(#{1,6}|`{1,3}|[-*+_]+|>|\d{1,9}\.?)?$/;
const FENCE = /^[ \t]*```/;
const HEADING = /^[ \t]{0,3}(#{1,6})[ \t]+/;
const BULLET = /^([ \t]*)[-*+][ \t]+/;
const QUOTE = /^[ \t]*>[ \t]?/;
const RULE = /^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*\n$/;

export class MarkdownStream {
  private lineStart = true;
  private head = "";
  private star = false;
  private bold = false;
  private code = false;
  private inFence = false;
  /** The style that lasts until the end of the current line. */
  private lineStyle: "heading" | "quote" | "fence" | "codeblock" | null = null;
  private out = "";

  constructor(
    private readonly style: Style,
    private readonly width: () => number = () => 80,
  ) {}

  /** Feeds a piece of the answer; returns what can be printed now. */
  push(text: string): string {
    if (!this.style.color) return text;
    for (const ch of text) this.char(ch);
    return this.take();
  }

  /** Ends the answer: prints what was held back and closes every style. */
  end(): string {
    if (!this.style.color) return "";
    if (this.lineStart && this.head) this.inline(this.head);
    this.head = "";
    this.lineStart = true;
    this.flushStar();
    this.closeLine();
    this.inFence = false;
    return this.take();
  }

  private take(): string {
    const s = this.out;
    this.out = "";
    return s;
  }

  private char(ch: string): void {
    if (!this.lineStart) {
      if (ch === "\n") return this.newline();
      return this.inlineChar(ch);
    }
    this.head += ch;
    if (ch !== "\n" && MAYBE_MARKER.test(this.head)) return;
    const head = this.head;
    this.head = "";
    this.lineStart = false;
    this.decide(head);
  }

  /** Classifies a line by its start and prints that start. */
  private decide(head: string): void {
    const [on] = this.style.codes("dim");
    if (this.inFence) {
      if (FENCE.test(head)) {
        this.inFence = false;
        this.lineStyle = "fence";
        this.out += on;
      } else {
        this.lineStyle = "codeblock";
        this.out += this.style.codes("cyan")[0];
      }
      return this.raw(head);
    }
    if (FENCE.test(head)) {
      this.inFence = true;
      this.lineStyle = "fence";
      this.out += on;
      return this.raw(head);
    }
    if (RULE.test(head)) {
      this.out += this.style.paint("dim", "─".repeat(Math.min(40, Math.max(3, this.width() - 1))));
      return this.newline();
    }
    const heading = HEADING.exec(head);
    if (heading) {
      this.lineStyle = "heading";
      this.out += this.style.codes("bold")[0];
      return this.inline(head.slice(heading[0].length));
    }
    const bullet = BULLET.exec(head);
    if (bullet) {
      this.out += `${bullet[1] + this.style.paint("cyan", "•")} `;
      return this.inline(head.slice(bullet[0].length));
    }
    const quote = QUOTE.exec(head);
    if (quote) {
      this.out += `${this.style.paint("dim", "│")} `;
      this.lineStyle = "quote";
      this.out += on;
      return this.inline(head.slice(quote[0].length));
    }
    this.inline(head);
  }

  /** Text inside a code block: no inline formatting. */
  private raw(text: string): void {
    for (const ch of text) {
      if (ch === "\n") this.newline();
      else this.out += ch;
    }
  }

  private inline(text: string): void {
    for (const ch of text) {
      if (ch === "\n") this.newline();
      else this.inlineChar(ch);
    }
  }

  private inlineChar(ch: string): void {
    if (this.lineStyle === "fence" || this.lineStyle === "codeblock") {
      this.out += ch;
      return;
    }
    if (this.code) {
      if (ch === "`") {
        this.code = false;
        this.out += this.style.codes("cyan")[1];
      } else this.out += ch;
      return;
    }
    if (ch === "*") {
      if (!this.star) {
        this.star = true;
        return;
      }
      this.star = false;
      this.bold = !this.bold;
      this.out += this.bold ? this.style.codes("bold")[0] : this.boldOff();
      return;
    }
    this.flushStar();
    if (ch === "`") {
      this.code = true;
      this.out += this.style.codes("cyan")[0];
      return;
    }
    this.out += ch;
  }

  /** Turning bold off also ends dim (SGR 22 ends both); a quote line keeps its dim. */
  private boldOff(): string {
    const off = this.style.codes("bold")[1];
    if (this.lineStyle === "quote") return off + this.style.codes("dim")[0];
    if (this.lineStyle === "heading") return "";
    return off;
  }

  private flushStar(): void {
    if (!this.star) return;
    this.star = false;
    this.out += "*";
  }

  /** Styles never leak past the end of a line: an unclosed ** or ` ends there. */
  private closeLine(): void {
    if (this.code || this.lineStyle === "codeblock") this.out += this.style.codes("cyan")[1];
    if (this.bold || this.lineStyle === "heading" || this.lineStyle === "quote" || this.lineStyle === "fence")
      this.out += this.style.codes("bold")[1];
    this.code = false;
    this.bold = false;
    this.lineStyle = null;
  }

  private newline(): void {
    this.flushStar();
    this.closeLine();
    this.out += "\n";
    this.lineStart = true;
  }
}
