/** Latencies in 10 µs buckets up to 10 s (the last bucket holds everything slower). */
const BUCKET_MS = 0.01;
const BUCKETS = 1_000_000;

export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

/** A fixed-memory latency histogram: recording is one array increment. */
export function createHistogram() {
  const counts = new Uint32Array(BUCKETS);
  let total = 0;
  let max = 0;
  const percentile = (fraction: number): number => {
    const rank = Math.ceil(total * fraction);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i] ?? 0;
      if (seen >= rank) return (i + 1) * BUCKET_MS;
    }
    return max;
  };
  return {
    record(ms: number): void {
      counts[Math.min(BUCKETS - 1, Math.floor(ms / BUCKET_MS))]! += 1;
      total += 1;
      if (ms > max) max = ms;
    },
    summary(): Latency {
      if (total === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
      return { p50: percentile(0.5), p99: percentile(0.99), max };
    },
  };
}
