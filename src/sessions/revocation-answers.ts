/**
 * Expired answers are dropped from the oldest end: each user's own on every `remember` of theirs
 * (up to two), and every user's at most once a second (up to four for each `remember` since the
 * last time), from the users whose latest answer is oldest. Every answer is kept at most the same
 * `maxAgeMs`, so the cache holds about what is still valid, not its cap, a busy user's included.
 * Not everyone's on every call: a Map iterator steps over the slots its deleted entries leave at
 * the front until the table is rebuilt.
 */
const SWEEP_INTERVAL_MS = 1_000;
const SWEPT_PER_REMEMBER = 4;
const OWN_SWEPT_PER_REMEMBER = 2;

/**
 * `cached` revocation mode's answers: until when the pair (user, `jti`) may be answered 'ok'
 * without asking Redis (`performance.now()` ms), grouped by user so that a revocation drops all of
 * a user's at once. Users are kept in the order of their latest answer, and each user's answers
 * in the order remembered. At most `maxEntries` answers: making room drops every answer of the
 * user whose latest answer is the oldest.
 */
export function createRevocationAnswers(maxEntries: number) {
  const answers = new Map<string, Map<string, number>>();
  let size = 0;
  let remembersSinceSweep = 0;
  let nextSweep = -Infinity;

  const forget = (userId: string) => {
    const entries = answers.get(userId);
    if (!entries) return;
    size -= entries.size;
    answers.delete(userId);
  };
  /** Drops up to `budget` of the user's expired answers; returns what is left of the budget, or -1 at a valid one. */
  const sweepUser = (entries: Map<string, number>, now: number, budget: number) => {
    for (const [jti, until] of entries) {
      if (until > now) return -1;
      if (budget === 0) return 0;
      entries.delete(jti);
      size -= 1;
      budget -= 1;
    }
    return budget;
  };
  const sweep = (now: number, budget: number) => {
    for (const [userId, entries] of answers) {
      budget = sweepUser(entries, now, budget);
      if (entries.size === 0) answers.delete(userId);
      if (budget <= 0) return;
    }
  };

  return {
    /** Until when `jti` of `userId` may be answered 'ok' from here, if remembered. */
    until: (userId: string, jti: string) => answers.get(userId)?.get(jti),
    remember(userId: string, jti: string, until: number, now: number) {
      if (maxEntries <= 0) return;
      remembersSinceSweep += 1;
      if (now >= nextSweep) {
        sweep(now, SWEPT_PER_REMEMBER * remembersSinceSweep);
        remembersSinceSweep = 0;
        nextSweep = now + SWEEP_INTERVAL_MS;
      }
      // Out of the order while it changes: back at the newest end below.
      let entries = answers.get(userId);
      if (entries) {
        answers.delete(userId);
        if (entries.delete(jti)) size -= 1;
        sweepUser(entries, now, OWN_SWEPT_PER_REMEMBER);
      } else entries = new Map();
      // Eviction is no revocation: the caller decides whether answers in flight may still be stored.
      if (size >= maxEntries) {
        const oldest = answers.keys().next();
        if (oldest.done) {
          size -= entries.size;
          entries.clear();
        } else forget(oldest.value);
      }
      answers.set(userId, entries);
      entries.set(jti, until);
      size += 1;
    },
    /** A revocation of the user's: every answer of theirs goes. */
    forget,
    clear() {
      answers.clear();
      size = 0;
    },
    get size() {
      return size;
    },
    /** Users with answers (none is kept without one). */
    get users() {
      return answers.size;
    },
  };
}

export type RevocationAnswers = ReturnType<typeof createRevocationAnswers>;
