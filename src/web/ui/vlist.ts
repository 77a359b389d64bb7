/**
 * A virtualized list: only the rows in (and just around) the viewport are in
 * the DOM, so 10,000 conversation items or timeline rows cost what 30 do.
 * Rows may differ in height: each starts at an estimate and is measured once
 * drawn (and again when something inside it toggles, e.g. a <details>), and
 * offsets are prefix sums over the heights (recomputed only when a height
 * changed; a linear pass over 10,000 numbers is microseconds).
 *
 * Rows are absolutely positioned inside a sizer as tall as the whole list;
 * positions go through the CSSOM (style.top), which the page's CSP allows.
 * Their elements are kept in list order in the DOM (the Tab order).
 * With `stickToBottom`, a list scrolled to its end stays at its end as it
 * grows (a live session, the live events feed).
 */

export interface VirtualListOptions<T> {
  estimate: number;
  render(item: T, index: number): HTMLElement;
  /** Rows drawn beyond the viewport on each side. */
  overscan?: number;
  stickToBottom?: boolean;
}

export class VirtualList<T> {
  readonly scroller: HTMLElement;
  private readonly sizer: HTMLElement;
  private items: readonly T[] = [];
  private heights: number[] = [];
  private offsets: number[] = [0];
  private dirtyFrom = 0;
  private readonly drawn = new Map<number, { item: T; el: HTMLElement }>();
  private frame = 0;
  private atBottom = true;

  constructor(
    container: HTMLElement,
    private readonly options: VirtualListOptions<T>,
  ) {
    this.scroller = document.createElement("div");
    this.scroller.className = "vlist";
    this.sizer = document.createElement("div");
    this.sizer.className = "vlist-sizer";
    this.scroller.append(this.sizer);
    container.append(this.scroller);
    this.scroller.addEventListener("scroll", () => {
      this.atBottom = this.isAtBottom();
      this.schedule();
    });
    // A row that changes its own height (a tool call opened) is measured again.
    this.scroller.addEventListener(
      "toggle",
      (event) => {
        const row = (event.target as HTMLElement).closest<HTMLElement>(".vrow");
        if (row?.dataset.index) this.measure(Number(row.dataset.index), row);
        this.schedule();
      },
      true,
    );
    // Shown again (a tab) or resized: a list that follows its end goes back to it.
    new ResizeObserver(() => {
      if (this.options.stickToBottom && this.atBottom) this.scrollToEnd();
      else this.schedule();
    }).observe(this.scroller);
  }

  get length(): number {
    return this.items.length;
  }

  /** Replaces the items; rows whose item is the same object keep their element and height. */
  setItems(items: readonly T[]): void {
    const old = this.items;
    const stick = this.options.stickToBottom && this.atBottom;
    let firstChanged = 0;
    while (firstChanged < items.length && firstChanged < old.length && items[firstChanged] === old[firstChanged])
      firstChanged++;
    this.items = items;
    this.heights.length = items.length;
    for (let i = firstChanged; i < items.length; i++) this.heights[i] = this.options.estimate;
    for (const [i, d] of this.drawn)
      if (i >= items.length || items[i] !== d.item) {
        d.el.remove();
        this.drawn.delete(i);
      }
    this.dirtyFrom = Math.min(this.dirtyFrom, firstChanged);
    this.draw();
    if (stick) this.scrollToEnd();
  }

  /** Draws the item `index` again (its content changed in place). */
  refresh(index: number): void {
    const d = this.drawn.get(index);
    if (!d) return;
    d.el.remove();
    this.drawn.delete(index);
    this.schedule();
  }

  scrollToEnd(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.atBottom = true;
    this.draw();
  }

  /** The drawn rows' elements (for tests and measuring). */
  drawnCount(): number {
    return this.drawn.size;
  }

  private isAtBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 24;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private layout(): void {
    if (this.dirtyFrom >= this.items.length && this.offsets.length === this.items.length + 1) return;
    const n = this.items.length;
    this.offsets.length = n + 1;
    for (let i = Math.min(this.dirtyFrom, n); i < n; i++) this.offsets[i + 1] = this.offsets[i]! + this.heights[i]!;
    this.dirtyFrom = n;
    this.sizer.style.height = `${this.offsets[n]}px`;
  }

  /** First index whose row ends below `y`. */
  private indexAt(y: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid + 1]! <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private measure(index: number, el: HTMLElement): boolean {
    const h = el.offsetHeight;
    if (h > 0 && h !== this.heights[index]) {
      this.heights[index] = h;
      this.dirtyFrom = Math.min(this.dirtyFrom, index);
      return true;
    }
    return false;
  }

  /**
   * Puts a new row's element before the next drawn row's, so DOM order is
   * list order: keyboard focus (Tab) and screen readers follow the DOM, not
   * the rows' positions. Rows already drawn never move (moving one would
   * drop the focus inside it).
   */
  private insertInOrder(index: number, el: HTMLElement): void {
    let next: HTMLElement | null = null;
    let nextIndex = Number.POSITIVE_INFINITY;
    for (const [i, d] of this.drawn) if (i > index && i < nextIndex) [next, nextIndex] = [d.el, i];
    this.sizer.insertBefore(el, next);
  }

  private draw(): void {
    // Draw, measure, and draw again while measuring moved rows (converges in a pass or two).
    for (let pass = 0; pass < 3; pass++) {
      this.layout();
      const overscan = this.options.overscan ?? 6;
      const top = this.scroller.scrollTop;
      const view = this.scroller.clientHeight || 800;
      const first = Math.max(0, this.indexAt(top) - overscan);
      const last = Math.min(this.items.length, this.indexAt(top + view) + 1 + overscan);
      for (const [i, d] of this.drawn)
        if (i < first || i >= last) {
          d.el.remove();
          this.drawn.delete(i);
        }
      const fresh: [number, HTMLElement][] = [];
      for (let i = first; i < last; i++) {
        let d = this.drawn.get(i);
        if (!d) {
          const item = this.items[i]!;
          const el = this.options.render(item, i);
          el.classList.add("vrow");
          el.dataset.index = String(i);
          this.insertInOrder(i, el);
          d = { item, el };
          this.drawn.set(i, d);
          fresh.push([i, el]);
        }
        d.el.style.top = `${this.offsets[i]}px`;
      }
      let moved = false;
      for (const [i, el] of fresh) moved = this.measure(i, el) || moved;
      if (!moved) break;
      if (this.options.stickToBottom && this.atBottom) {
        this.layout();
        this.scroller.scrollTop = this.scroller.scrollHeight;
      }
    }
    if (this.dirtyFrom < this.items.length) {
      this.layout();
      for (const [i, d] of this.drawn) d.el.style.top = `${this.offsets[i]}px`;
    }
  }
}
