import { describe, expect, it } from 'vitest';
import { memory, type RssSample, windows } from '../../bench/soak/report.js';

const MiB = 2 ** 20;
const instance = [{ id: 'jwt-1', pid: 1 }];

/** One instance sampled every 2 s from 0 to `lastS`, RSS (MiB) given by `rss(atS, i)`. */
function series(lastS: number, rss: (atS: number, i: number) => number | null): RssSample[] {
  return Array.from({ length: lastS / 2 + 1 }, (_, i) => {
    const value = rss(i * 2, i);
    return { atS: i * 2, rss: [value === null ? null : value * MiB] };
  });
}

const warmAt = (samples: RssSample[], atS: number) => samples.findIndex((sample) => sample.atS >= atS);

describe('the soak’s RSS growth (medians of windows after warm-up)', () => {
  it('cuts what follows warm-up into windows of about a minute, every sample in one, in order', () => {
    const samples = series(300, () => 100);
    const warm = warmAt(samples, 30);
    const { seconds, indexes } = windows(samples, warm);
    expect(indexes).toHaveLength(5); // 270 s after warm-up: five of 54 s
    expect(seconds).toBe(54);
    expect(indexes.flat()).toEqual(Array.from({ length: samples.length - warm }, (_, i) => warm + i));
    expect(indexes.map((window) => window.length)).toEqual([27, 27, 27, 27, 28]);
  });

  it('a one-minute run still has two windows', () => {
    const samples = series(60, () => 100);
    const { seconds, indexes } = windows(samples, warmAt(samples, 30));
    expect(seconds).toBe(15);
    expect(indexes).toEqual([
      [15, 16, 17, 18, 19, 20, 21, 22],
      [23, 24, 25, 26, 27, 28, 29, 30],
    ]);
  });

  it('a flat series passes whatever single samples a hash in flight or a release of pages adds or takes', () => {
    // 130 MiB, a login's argon2 (+19 MiB) in every seventh sample, the warm-up's own sample low.
    const samples = series(300, (atS, i) => (atS === 30 ? 112 : i % 7 === 0 ? 149 : 130));
    const [m] = memory(instance, samples, warmAt(samples, 30));
    expect(m).toMatchObject({ startMiB: 130, highestMiB: 130, endMiB: 130, peakMiB: 149, growthPct: 0, pass: true });
  });

  it('steady growth fails, though no single sample stands out', () => {
    const samples = series(300, (atS) => 120 + atS * 0.1); // +27 MiB over the run
    const [m] = memory(instance, samples, warmAt(samples, 30));
    expect(m!.growthPct).toBeGreaterThan(15);
    expect(m!.highestMiB).toBe(m!.endMiB);
    expect(m!.pass).toBe(false);
  });

  it('growth that comes back down still counts at its highest window', () => {
    const samples = series(300, (atS) => (atS >= 120 && atS < 200 ? 160 : 130));
    const [m] = memory(instance, samples, warmAt(samples, 30));
    expect(m).toMatchObject({ startMiB: 130, highestMiB: 160, endMiB: 130, pass: false });
  });

  it('an instance gone after warm-up fails', () => {
    const samples = series(300, (atS) => (atS > 200 ? null : 130));
    const [m] = memory(instance, samples, warmAt(samples, 30));
    expect(m).toMatchObject({ growthPct: null, peakMiB: null, pass: false });
  });
});
