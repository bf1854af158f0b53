/** RSS of every instance at one moment (`null`: the process was gone). */
export interface RssSample {
  atS: number;
  rss: (number | null)[];
}

export const MAX_GROWTH = 0.15;
/**
 * Length of the sliding windows whose medians stand for RSS. A login's argon2 hash holds ~19 MiB
 * while it runs, and its allocator may keep it a few seconds more: up to 3 consecutive samples
 * (2 s apart) stood 19–20 MiB above the rest, never near half of a window's 16.
 */
export const WINDOW_S = 30;
/** Memory is judged only when at least this long follows warm-up: the first window and a later one. */
export const MIN_JUDGED_S = 2 * WINDOW_S;
/** A window with fewer samples (half of one at the soak's 2 s, after a stall of the harness) is left out. */
export const MIN_WINDOW_SAMPLES = 8;

export interface InstanceMemory {
  id: string;
  pid: number;
  /** MiB: the first sample (boot), then window medians after warm-up: the first, the highest, the last. */
  bootMiB: number | null;
  startMiB: number | null;
  highestMiB: number | null;
  endMiB: number | null;
  /** MiB: the highest single sample after warm-up (transient working memory included). */
  peakMiB: number | null;
  /** The highest window median over the first; the criterion. */
  growthPct: number | null;
  /** Why there is no growth: an instance gone after warm-up, or too little run after it. */
  unjudged: 'gone' | 'too short' | null;
  pass: boolean;
}

const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? null : Math.round((bytes / 2 ** 20) * 10) / 10);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

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
 * Per instance: RSS growth after warm-up as the highest window median over the first window's
 * (≤ 15%). Medians of 30 s, not single samples: a sample taken while a hash holds its memory
 * stands ~19 MiB above its neighbours, while a leak (a climb, a step lasting 16 s or more, a
 * rise that comes back down) moves the windows' medians. A steady climb counts between the
 * first and the last window's middles: ~90% of it in a 5-minute soak.
 */
export function memory(instances: readonly { id: string; pid: number }[], samples: readonly RssSample[], warm: number): InstanceMemory[] {
  const cuts = windows(samples, warm);
  return instances.map(({ id, pid }, i) => {
    const series = samples.map((sample) => sample.rss[i] ?? null);
    const after = series.slice(warm);
    const gone = after.length === 0 || after.some((value) => value === null);
    const unjudged = gone ? 'gone' : cuts.length === 0 ? 'too short' : null;
    const medians = unjudged ? [] : cuts.map((cut) => median(cut.map((index) => series[index]!)));
    const start = medians[0];
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
