// Virtual time for the simulator: events run in time order, ties in the order they were
// scheduled, so a run depends on its seed alone.

export class EventQueue {
  private heap: { at: number; order: number; run: () => void }[] = [];
  private scheduled = 0;
  private nowMs = 0;

  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.heap.length;
  }

  at(timeMs: number, run: () => void): void {
    const item = { at: Math.max(timeMs, this.nowMs), order: this.scheduled++, run };
    this.heap.push(item);
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(this.heap[i]!, this.heap[parent]!)) break;
      [this.heap[i], this.heap[parent]] = [this.heap[parent]!, this.heap[i]!];
      i = parent;
    }
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.nowMs + delayMs, run);
  }

  /** Runs the next event; false when there is none or it is past `untilMs`. */
  step(untilMs = Number.POSITIVE_INFINITY): boolean {
    const top = this.heap[0];
    if (top === undefined || top.at > untilMs) return false;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.heap.length && this.before(this.heap[l]!, this.heap[m]!)) m = l;
        if (r < this.heap.length && this.before(this.heap[r]!, this.heap[m]!)) m = r;
        if (m === i) break;
        [this.heap[i], this.heap[m]] = [this.heap[m]!, this.heap[i]!];
        i = m;
      }
    }
    this.nowMs = top.at;
    top.run();
    return true;
  }

  private before(a: { at: number; order: number }, b: { at: number; order: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }
}
