import type { Metric, Registry } from 'prom-client';

export interface HotHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, ascending; `+Inf` is implied. */
  buckets: readonly number[];
  registers: Registry[];
}

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram for per-request observations: a label set is bound once
 * (`series(labels)`), and each observation is then a bucket search and three additions.
 * prom-client's own histogram re-validates and re-hashes the labels on every observation: with
 * the outcome counter, 2.3 of the 23.6 µs of a cached `/authenticate` (A/B, medians of 8).
 * Exposed through prom-client's registry, which writes it exactly as its own histogram.
 */
export function createHotHistogram<L extends string>({ name, help, labelNames, buckets, registers }: HotHistogramOptions<L>) {
  const bounds = Float64Array.from(buckets);
  if (bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= (bounds[i - 1] as number)))) {
    throw new RangeError(`${name}: buckets must be finite and ascending`);
  }
  const all: Series[] = [];

  const values = () =>
    all.flatMap(({ labels, counts, sum, count }) => {
      let cumulative = 0;
      const rows: Array<{ labels: Record<string, string | number>; sharedLabels?: Record<string, string>; value: number; metricName: string }> = [];
      bounds.forEach((bound, i) => {
        cumulative += counts[i] as number;
        rows.push({ labels: { le: bound }, sharedLabels: labels, value: cumulative, metricName: `${name}_bucket` });
      });
      rows.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: `${name}_bucket` });
      rows.push({ labels: {}, sharedLabels: labels, value: sum, metricName: `${name}_sum` });
      rows.push({ labels: {}, sharedLabels: labels, value: count, metricName: `${name}_count` });
      return rows;
    });

  // What prom-client's registry reads from a metric: name, help, type, aggregator, get(), reset().
  const header = { name, help, type: 'histogram', aggregator: 'sum' } as const;
  const metric = {
    ...header,
    get: async () => ({ ...header, values: values() }),
    /** Zeroes every series (prom-client drops them; ours stay bound to their recorders). */
    reset() {
      for (const series of all) {
        series.counts.fill(0);
        series.sum = 0;
        series.count = 0;
      }
    },
  };
  for (const registry of registers) registry.registerMetric(metric as unknown as Metric);

  return {
    /** The recorder of one label set; every label of `labelNames` must be given. */
    series(labels: Record<L, string>): (value: number) => void {
      for (const label of labelNames) if (typeof labels[label] !== 'string') throw new TypeError(`${name}: label ${label} is missing`);
      const series: Series = { labels: { ...labels }, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
      all.push(series);
      return (value) => {
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > (bounds[i] as number)) i += 1;
        series.counts[i] = (series.counts[i] as number) + 1;
        series.sum += value;
        series.count += 1;
      };
    },
  };
}
