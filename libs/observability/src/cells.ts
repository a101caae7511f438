import type { Counter, Metric, Registry } from 'prom-client';

/*
 * Hot-path recording. prom-client hashes the label set on every inc()/observe(), even
 * through a bound child; the scheduler records per task, so it adds plain numbers to a
 * cell bound to its labels once: counter cells hand their sums to prom-client when the
 * counter is collected (at scrape), histogram cells are read in place.
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

/** One label set of a {@link CellHistogram}: bucket counts, sum and count, kept as plain numbers. */
export class HistogramCell {
  /** Observations per bucket (not cumulative), one per upper bound; above the last one, only `count` grows. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[], readonly labels: Record<string, string>) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }

  flush(): void {
    // Read in place at scrape time: nothing to hand over.
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * A histogram registered in a prom-client registry and exposed in its format, whose
 * observations cost a bucket search and three additions on a cell bound to its labels
 * (prom-client's own `observe()` also validates and hashes the labels and allocates a
 * closure, about 1 µs a call). For the scheduler's per-task histograms.
 */
export class CellHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly table: CellTable<HistogramCell> | null;
  private readonly single: HistogramCell | null;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.table = labelNames.length > 0 ? new CellTable(labelNames, (labels) => new HistogramCell(bounds, labels)) : null;
    this.single = labelNames.length > 0 ? null : new HistogramCell(bounds, {});
    registry.registerMetric(this as unknown as Metric);
  }

  /** The cell of these label values (in `labelNames` order; none for a histogram without labels): bind it once, observe often. */
  labels(...values: string[]): HistogramCell {
    return this.single ?? this.table!.get(...values);
  }

  /** prom-client's metric interface: the `_bucket` (cumulative, `le` last), `_sum` and `_count` series. */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: object[] }> {
    const values: object[] = [];
    for (const cell of this.single ? [this.single] : this.table!.cells()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i];
        values.push({ labels: { ...cell.labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...cell.labels, le: '+Inf' }, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** What `registry.getMetricsAsJSON()` reads. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: object[] }> {
    return this.getForPromString();
  }

  reset(): void {
    for (const cell of this.single ? [this.single] : this.table!.cells()) cell.reset();
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

  cells(): readonly C[] {
    return this.all;
  }
}
