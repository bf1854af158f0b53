import { median } from '../stats.js';

/** RSS of every instance at one moment (`null`: the process was gone). */
export interface RssSample {
  atS: number;
  rss: (number | null)[];
  /**
   * Of each instance's RSS, bytes in argon2's working memory at that moment (`argon2Resident`);
   * `null` where it could not be read. Absent in results recorded before it was sampled.
   */
  argon2?: (number | null)[];
}

/**
 * Resident bytes of the private read-write anonymous mappings in `smaps` (a `/proc/<pid>/smaps`)
 * whose length is a whole number of `blockKiB` (the kernel may merge adjacent ones): argon2's
 * working memory, one block of `memoryCost` KiB mapped for each hash and unmapped after it (an
 * `smaps` diff of an instance's highest and lowest samples: that one mapping). A login's argon2
 * thread runs at the lowest CPU priority, and in a soak a block was resident in up to ~60% of
 * one instance's samples over half a minute. `memory` leaves out at most one block per argon2
 * thread, so blocks that pile up beyond that still count as growth.
 */
export function argon2Resident(smaps: string, blockKiB: number): number {
  let total = 0;
  let inBlock = false;
  for (const line of smaps.split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(\S*)/.exec(line);
    if (mapping) {
      const kib = (parseInt(mapping[2]!, 16) - parseInt(mapping[1]!, 16)) / 1024;
      inBlock = mapping[3] === 'rw-p' && mapping[4] === '' && kib > 0 && kib % blockKiB === 0;
    } else if (inBlock && line.startsWith('Rss:')) total += Number(/(\d+) kB/.exec(line)?.[1] ?? 0) * 1024;
  }
  return total;
}

export const MAX_GROWTH = 0.15;
/**
 * Length of the sliding windows whose medians stand for RSS (16 samples, 2 s apart): anything that
 * comes and goes in fewer than 8 samples does not move a median; argon2's blocks, which can stay
 * longer, are left out of RSS before (`argon2Resident`).
 */
export const WINDOW_S = 30;
/**
 * Growth is measured from the median of the first minute after warm-up. Start-up ends with a
 * one-off release of memory: RSS 15–40 MiB lower for 15–20 s, on every instance at once, seen
 * from 17 to 103 s after the start. Half of a 30 s window's samples could fall into it (a 30-minute
 * soak judged +21% so, from a first window 10 MiB low); fewer than half of a minute's cannot move
 * its median past the rest.
 */
export const BASELINE_S = 60;
/** Memory is judged only when at least this long follows warm-up: the baseline's minute. */
export const MIN_JUDGED_S = BASELINE_S;
/** A window with fewer samples (half of one at the soak's 2 s, after a stall of the harness) is left out. */
export const MIN_WINDOW_SAMPLES = 8;

export interface InstanceMemory {
  id: string;
  pid: number;
  /**
   * MiB: the first sample (boot), then of RSS without argon2's blocks: the median of the first
   * minute after warm-up (the baseline), and the highest and last window medians.
   */
  bootMiB: number | null;
  startMiB: number | null;
  highestMiB: number | null;
  endMiB: number | null;
  /** MiB: the highest single sample of RSS after warm-up (argon2's blocks included). */
  peakMiB: number | null;
  /** The highest window median over the baseline; the criterion. */
  growthPct: number | null;
  /** Why there is no growth: an instance gone after warm-up, its argon2 blocks unreadable, or too little run after it. */
  unjudged: 'gone' | 'argon2 unknown' | 'too short' | null;
  pass: boolean;
}

/** Bytes as MiB to one decimal; `null` stays `null`. */
export const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? null : Math.round((bytes / 2 ** 20) * 10) / 10);

/**
 * The sliding windows after warm-up, as sample indexes: one ending at each sample at least
 * `WINDOW_S` after the warm-up's (`warm`), holding the samples of the `WINDOW_S` before it and
 * none before warm-up, if they are at least `MIN_WINDOW_SAMPLES`. Empty when less than
 * `MIN_JUDGED_S` follows warm-up.
 */
export function windows(samples: readonly RssSample[], warm: number): number[][] {
  const t0 = samples[warm]?.atS;
  if (t0 === undefined || samples.at(-1)!.atS - t0 < MIN_JUDGED_S) return [];
  const result: number[][] = [];
  let first = warm;
  for (let end = warm; end < samples.length; end++) {
    const endS = samples[end]!.atS;
    if (endS - t0 < WINDOW_S) continue;
    while (endS - samples[first]!.atS > WINDOW_S) first++;
    if (end - first + 1 >= MIN_WINDOW_SAMPLES) result.push(Array.from({ length: end - first + 1 }, (_, k) => first + k));
  }
  return result;
}

/**
 * Per instance: RSS growth after warm-up as the highest window median over the first minute's
 * median (`BASELINE_S`; ≤ 15%), of RSS without argon2's blocks (`argon2Resident`), up to `argon2Cap` bytes of them
 * (one block per argon2 thread: working memory of the hashes running at once, not growth).
 * Medians of 30 s, not single samples, against what else comes and goes in a sample or two; a
 * leak (a climb, a step lasting 16 s or more, a rise that comes back down) moves the windows'
 * medians. A steady climb counts between the first minute's and the last window's middles: ~79%
 * of it in a 5-minute soak (90 s warm-up).
 */
export function memory(
  instances: readonly { id: string; pid: number }[],
  samples: readonly RssSample[],
  warm: number,
  argon2Cap = 0,
): InstanceMemory[] {
  const cuts = windows(samples, warm);
  const t0 = samples[warm]?.atS ?? 0;
  const baseline = samples.flatMap((sample, k) => (k >= warm && sample.atS - t0 <= BASELINE_S ? [k] : []));
  return instances.map(({ id, pid }, i) => {
    const series = samples.map((sample) => sample.rss[i] ?? null);
    const kept = samples.map((sample, k) => (series[k] === null ? null : series[k]! - Math.min(argon2Cap, sample.argon2?.[i] ?? 0)));
    const after = series.slice(warm);
    const gone = after.length === 0 || after.some((value) => value === null);
    const unread = samples.slice(warm).some((sample) => sample.argon2 !== undefined && sample.argon2[i] === null);
    const unjudged = gone ? 'gone' : unread ? 'argon2 unknown' : cuts.length === 0 ? 'too short' : null;
    const medians = unjudged ? [] : cuts.map((cut) => median(cut.map((index) => kept[index]!)));
    const start = unjudged ? undefined : median(baseline.map((index) => kept[index]!));
    const highest = unjudged ? undefined : Math.max(...medians);
    const growth = start === undefined || highest === undefined ? null : (highest - start) / start;
    return {
      id,
      pid,
      bootMiB: mib(series[0]),
      startMiB: mib(start),
      highestMiB: mib(highest),
      endMiB: mib(medians.at(-1)),
      peakMiB: gone ? null : mib(Math.max(...(after as number[]))),
      growthPct: growth === null ? null : Math.round(growth * 1000) / 10,
      unjudged,
      pass: growth !== null && growth <= MAX_GROWTH,
    };
  });
}
