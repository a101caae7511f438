import type { Counter, Histogram } from 'prom-client';

/*
 * Hot-path recording. prom-client hashes the label set on every inc()/observe(), even
 * through a bound child; the scheduler records per task, so it adds plain numbers to a
 * cell bound to its labels once, and the cells are handed to prom-client when the metric
 * is collected (at scrape) or when a buffer fills.
 */

/** One label set of a counter: `inc()` is an addition; the sum reaches the counter at scrape. */
export class CounterCell {
  private pending = 0;

  constructor(private readonly counter: Counter<string>, private readonly labels: Record<string, string>) {}

  inc(by = 1): void {
    this.pending += by;
  }

  /** Hands what was counted since the last flush to the counter. */
  flush(): void {
    if (this.pending === 0) return;
    this.counter.inc(this.labels, this.pending);
    this.pending = 0;
  }
}

/** Observations held before they reach the histogram; a full buffer is flushed at once. */
const HISTOGRAM_BUFFER = 1024;

/** One label set of a histogram: `observe()` appends to a buffer that reaches the histogram at scrape. */
export class HistogramCell {
  private readonly values: number[] = [];

  constructor(private readonly histogram: Histogram<string>, private readonly labels: Record<string, string>) {}

  observe(seconds: number): void {
    this.values.push(seconds);
    if (this.values.length >= HISTOGRAM_BUFFER) this.flush();
  }

  flush(): void {
    for (const v of this.values) this.histogram.observe(this.labels, v);
    this.values.length = 0;
  }
}

/**
 * Cells of one metric keyed by the values of its labels (in `labelNames` order), created
 * on first use. Lookups go through nested maps: no key string is built per call.
 */
export class CellTable<C extends { flush(): void }> {
  private readonly root = new Map<string, unknown>();
  private readonly all: C[] = [];

  constructor(private readonly labelNames: readonly string[], private readonly make: (labels: Record<string, string>) => C) {}

  /** The cell of these label values, in the order of `labelNames`. */
  get(...values: string[]): C {
    let node: Map<string, unknown> = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) node.set(values[i], (next = new Map()));
      node = next;
    }
    let cell = node.get(values[last]) as C | undefined;
    if (!cell) {
      if (values.length !== this.labelNames.length) throw new Error(`expected ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`);
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      cell = this.make(labels);
      node.set(values[last], cell);
      this.all.push(cell);
    }
    return cell;
  }

  flush(): void {
    for (const cell of this.all) cell.flush();
  }
}
