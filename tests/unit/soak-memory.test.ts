import { describe, expect, it } from 'vitest';
import { memory, type RssSample, windows } from '../../bench/soak/memory.js';

const MiB = 2 ** 20;
const instance = [{ id: 'jwt-1', pid: 1 }];

/** One instance sampled every 2 s from 0 to `lastS`, RSS (MiB) given by `rss(atS, i)`. */
function series(lastS: number, rss: (atS: number, i: number) => number | null): RssSample[] {
  return Array.from({ length: lastS / 2 + 1 }, (_, i) => {
    const value = rss(i * 2, i);
    return { atS: i * 2, rss: [value === null ? null : value * MiB] };
  });
}

/** The memory verdict of a 5-minute run (warm-up ends at 30 s) of one instance. */
function judge(rss: (atS: number, i: number) => number | null, lastS = 300) {
  const samples = series(lastS, rss);
  return memory(instance, samples, samples.findIndex((sample) => sample.atS >= 30))[0]!;
}

describe('the soak’s RSS growth (medians of 30 s windows after warm-up)', () => {
  it('a window ends at every sample from 30 s after warm-up on and holds the 30 s before it', () => {
    const samples = series(300, () => 100);
    const cuts = windows(samples, 15); // warm-up ends at 30 s
    expect(cuts).toHaveLength(121); // windows ending at 60, 62, …, 300 s
    expect(cuts[0]).toEqual(Array.from({ length: 16 }, (_, k) => 15 + k)); // 30–60 s
    expect(cuts.at(-1)).toEqual(Array.from({ length: 16 }, (_, k) => 135 + k)); // 270–300 s
  });

  it('is not judged when less than a minute follows warm-up', () => {
    expect(judge(() => 130, 88)).toMatchObject({ unjudged: 'too short', growthPct: null, pass: false });
    expect(judge(() => 130, 90)).toMatchObject({ unjudged: null, growthPct: 0, pass: true });
  });

  it('a flat series passes whatever single samples a hash in flight or a release of pages adds or takes', () => {
    // 130 MiB; a login's argon2 (+19 MiB) in three samples in a row every 20 s; the warm-up's own sample low.
    const m = judge((atS, i) => (atS === 30 ? 112 : i % 10 < 3 ? 149 : 130));
    expect(m).toMatchObject({ startMiB: 130, highestMiB: 130, endMiB: 130, peakMiB: 149, growthPct: 0, unjudged: null, pass: true });
  });

  it('a steady climb fails, though no single sample stands out', () => {
    const m = judge((atS) => 120 + atS * 0.1); // +22% from warm-up's end to the last sample; +19% between the windows' middles
    expect(m.growthPct).toBeGreaterThan(15);
    expect(m.highestMiB).toBe(m.endMiB);
    expect(m.pass).toBe(false);
  });

  it('a step up lasting the run’s last 16 s fails; one of 14 s shows at half its size', () => {
    expect(judge((atS) => (atS >= 284 ? 160 : 130))).toMatchObject({ startMiB: 130, endMiB: 160, pass: false });
    expect(judge((atS) => (atS >= 286 ? 160 : 130))).toMatchObject({ startMiB: 130, endMiB: 145, growthPct: 11.5, pass: true });
  });

  it('leaves out a window a stall of the sampling leaves with under 8 samples', () => {
    // No samples from 120 to 150 s; the window ending at 156 s holds 152–156 s only, where a hash is in flight.
    const samples = series(300, (atS) => (atS >= 152 && atS <= 156 ? 149 : 130)).filter((sample) => sample.atS <= 120 || sample.atS >= 152);
    const cuts = windows(samples, 15);
    expect(cuts.every((window) => window.length >= 8)).toBe(true);
    expect(memory(instance, samples, 15)[0]).toMatchObject({ highestMiB: 130, growthPct: 0, pass: true });
  });

  it('growth that comes back down still counts at its highest window', () => {
    expect(judge((atS) => (atS >= 120 && atS < 200 ? 160 : 130))).toMatchObject({ startMiB: 130, highestMiB: 160, endMiB: 130, pass: false });
  });

  it('an instance gone after warm-up fails', () => {
    expect(judge((atS) => (atS > 200 ? null : 130))).toMatchObject({ unjudged: 'gone', growthPct: null, peakMiB: null, pass: false });
  });
});
