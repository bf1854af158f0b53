import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHotHistogram } from '../../src/observability/hot-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const LABELS = ['route', 'status'] as const;

/** The same observations in a prom-client histogram and in ours, each on a registry of its own. */
function pair() {
  const reference = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({ name: 'd_seconds', help: 'durations', labelNames: LABELS, buckets: BUCKETS, registers: [reference] });
  const hot = createHotHistogram({ name: 'd_seconds', help: 'durations', labelNames: LABELS, buckets: BUCKETS, registers: [ours] });
  const recorders = new Map<string, (value: number) => void>();
  const observe = (labels: { route: string; status: string }, values: number[]) => {
    const key = JSON.stringify(labels);
    const series = recorders.get(key) ?? hot.series(labels);
    recorders.set(key, series);
    for (const value of values) {
      histogram.labels(labels).observe(value);
      series(value);
    }
  };
  return { reference, ours, observe };
}

describe('hot histogram', () => {
  it('exposes exactly what prom-client exposes for the same observations, bounds included', async () => {
    const { reference, ours, observe } = pair();
    observe({ route: '/authenticate', status: '200' }, [0, 0.001, 0.0010001, 0.01, 0.05, 0.1, 1, 1.5, 30]);
    observe({ route: '/login', status: '401' }, [0.2, 0.2, 0.0005]);
    // Labels in another order, and values that need escaping, come out as prom-client writes them.
    observe({ status: '503', route: 'weird "route"\\\n' }, [0.003]);
    const text = await ours.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain('d_seconds_count{route="/authenticate",status="200"} 9');
    expect(text).toContain('d_seconds_bucket{le="0.001",route="/authenticate",status="200"} 2');
  });

  it('zeroes its series on a registry reset and keeps recording; refuses bad buckets and missing labels', async () => {
    const { ours, observe } = pair();
    observe({ route: '/a', status: '200' }, [0.5, 2]);
    ours.resetMetrics();
    const values = (text: string) => text.split('\n').filter((line) => !line.startsWith('#')).map((line) => Number(line.split(' ').at(-1)));
    const afterReset = await ours.metrics();
    expect(afterReset).toContain('d_seconds_count{route="/a",status="200"} 0');
    expect(values(afterReset).every((value) => value === 0)).toBe(true);
    observe({ route: '/a', status: '200' }, [0.05]);
    expect(await ours.metrics()).toContain('d_seconds_count{route="/a",status="200"} 1');
    expect(() => createHotHistogram({ name: 'x', help: 'x', labelNames: [], buckets: [1, 0.5], registers: [] })).toThrow(RangeError);
    const hot = createHotHistogram({ name: 'y', help: 'y', labelNames: LABELS, buckets: BUCKETS, registers: [] });
    expect(() => hot.series({ route: '/a' } as { route: string; status: string })).toThrow(TypeError);
  });
});
