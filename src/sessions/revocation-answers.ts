/**
 * Expired answers dropped from the oldest end by each `remember`. Every answer is kept at most
 * the same `maxAgeMs`, so answers expire about in the order they were remembered: the cache holds
 * about what is still valid, not its cap, at a bounded cost per call (one added, up to four dropped).
 */
const SWEPT_PER_REMEMBER = 4;

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

  const forget = (userId: string) => {
    const entries = answers.get(userId);
    if (!entries) return;
    size -= entries.size;
    answers.delete(userId);
  };
  const sweep = (now: number) => {
    let budget = SWEPT_PER_REMEMBER;
    for (const [userId, entries] of answers) {
      for (const [jti, until] of entries) {
        if (until > now || budget === 0) return;
        entries.delete(jti);
        size -= 1;
        budget -= 1;
      }
      answers.delete(userId);
    }
  };

  return {
    /** Until when `jti` of `userId` may be answered 'ok' from here, if remembered. */
    until: (userId: string, jti: string) => answers.get(userId)?.get(jti),
    remember(userId: string, jti: string, until: number, now: number) {
      if (maxEntries <= 0) return;
      sweep(now);
      if (answers.get(userId)?.delete(jti)) size -= 1;
      // Making room is no revocation: in-flight answers may still be stored.
      if (size >= maxEntries) forget(answers.keys().next().value as string);
      let entries = answers.get(userId);
      if (entries) answers.delete(userId);
      else entries = new Map();
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
  };
}

export type RevocationAnswers = ReturnType<typeof createRevocationAnswers>;
