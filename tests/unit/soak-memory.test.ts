import { describe, expect, it } from 'vitest';
import { argon2Resident, memory, type RssSample, windows } from '../../bench/soak/memory.js';

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

  it('measures from the first minute after warm-up, which start-up’s 16 s release of memory does not move', () => {
    // 18 MiB released from 36 to 52 s: more than half of the first 30 s window, a quarter of the first minute.
    const m = judge((atS) => (atS >= 36 && atS <= 52 ? 112 : 130));
    expect(m).toMatchObject({ startMiB: 130, highestMiB: 130, growthPct: 0, pass: true });
    // The first minute's median still follows a level that holds through it.
    expect(judge((atS) => (atS >= 36 && atS <= 90 ? 112 : 130))).toMatchObject({ startMiB: 112, growthPct: 16.1, pass: false });
  });

  it('a steady climb fails, though no single sample stands out', () => {
    const m = judge((atS) => 120 + atS * 0.1); // +22% from warm-up's end to the last sample; +18% between the first minute's and the last window's middles
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

  it('leaves argon2’s blocks out of the windows, up to one per thread, however long held; keeps them in the highest sample', () => {
    // A hash's 19 MiB resident from 100 to 160 s: twice a window.
    const held = (atS: number) => atS >= 100 && atS <= 160;
    const samples = series(300, (atS) => (held(atS) ? 139 : 120)).map((sample) => ({ ...sample, argon2: [held(sample.atS) ? 19 * MiB : 0] }));
    const warm = samples.findIndex((sample) => sample.atS >= 30);
    expect(memory(instance, samples, warm, 19 * MiB)[0]).toMatchObject({ highestMiB: 120, peakMiB: 139, growthPct: 0, pass: true });
    const unknown = samples.map(({ atS, rss }) => ({ atS, rss }));
    expect(memory(instance, unknown, warm, 19 * MiB)[0]).toMatchObject({ highestMiB: 139, growthPct: 15.8, pass: false });
    // Two blocks held where the instance has one thread: the second is growth.
    const piled = series(300, (atS) => (held(atS) ? 158 : 120)).map((sample) => ({ ...sample, argon2: [held(sample.atS) ? 38 * MiB : 0] }));
    expect(memory(instance, piled, warm, 19 * MiB)[0]).toMatchObject({ highestMiB: 139, growthPct: 15.8, pass: false });
  });

  it('an instance whose blocks could not be read is not judged', () => {
    const samples = series(300, () => 130).map((sample) => ({ ...sample, argon2: [sample.atS === 200 ? null : 0] }));
    expect(memory(instance, samples, 15, 19 * MiB)[0]).toMatchObject({ unjudged: 'argon2 unknown', growthPct: null, pass: false });
  });
});

describe('argon2’s working memory in /proc/<pid>/smaps', () => {
  const mapping = (range: string, perms: string, path: string, rssKiB: number) =>
    `${range} ${perms} 00000000 00:00 0 ${path}\nSize:              19456 kB\nRss:               ${rssKiB} kB\nPss:               ${rssKiB} kB\nVmFlags: rd wr mr mw me ac\n`;

  it('counts the resident part of private read-write anonymous mappings a whole number of blocks long, nothing else', () => {
    const smaps = [
      mapping('7faf52c00000-7faf53f00000', 'rw-p', '', 19456), // 19456 KiB: a hash's block
      mapping('7faf40000000-7faf41300000', 'rw-p', '', 1024), // another block, mostly not yet touched
      mapping('7faf60000000-7faf62600000', 'rw-p', '', 38912), // two blocks the kernel merged
      mapping('7faf30000000-7faf31300000', 'rw-p', '/tmp/some-file', 19456), // the same size, but a file
      mapping('7faf70000000-7faf71300000', '---p', '', 19456), // the same size, reserved only
      mapping('7faf20000000-7faf21400000', 'rw-p', '', 20480), // anonymous, another size
      mapping('242f0000000-242f2000000', 'rw-p', '[heap]', 2048),
    ].join('');
    expect(argon2Resident(smaps, 19456)).toBe((19456 + 1024 + 38912) * 1024);
    expect(argon2Resident(smaps, 4000)).toBe(0);
    expect(argon2Resident('', 19456)).toBe(0);
  });
});
