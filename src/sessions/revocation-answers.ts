import { createInsertionList, type ListNode } from '../util/insertion-list.js';

/**
 * Expired answers each `remember` drops from the oldest end: answers are kept at most the same
 * `maxAgeMs`, so they expire about in the order remembered, and the cache holds about what is
 * still valid, not its cap.
 */
const SWEPT_PER_REMEMBER = 4;

/** One answer: until when the pair (user, `jti`) may be answered 'ok' from here. */
interface Answer extends ListNode<Answer> {
  userId: string;
  jti: string;
  until: number;
}

/**
 * `cached` revocation mode's answers: until when the pair (user, `jti`) may be answered 'ok'
 * without asking Redis (`performance.now()` ms), grouped by user so that a revocation drops all of
 * a user's at once, and linked in the order remembered, for the sweep and for making room. At
 * most `maxEntries` answers (making room drops the oldest).
 */
export function createRevocationAnswers(maxEntries: number) {
  const answers = new Map<string, Map<string, Answer>>();
  const order = createInsertionList<Answer>();
  let size = 0;

  const drop = (answer: Answer) => {
    const entries = answers.get(answer.userId)!;
    entries.delete(answer.jti);
    if (entries.size === 0) answers.delete(answer.userId);
    order.remove(answer);
    size -= 1;
  };

  return {
    /** Until when `jti` of `userId` may be answered 'ok' from here, if remembered. */
    until: (userId: string, jti: string) => answers.get(userId)?.get(jti)?.until,
    remember(userId: string, jti: string, until: number, now: number) {
      // Remembered again, an answer is the newest.
      const known = answers.get(userId)?.get(jti);
      if (known) drop(known);
      for (let swept = 0; swept < SWEPT_PER_REMEMBER; swept++) {
        const oldest = order.first;
        if (oldest === undefined || oldest.until > now) break;
        drop(oldest);
      }
      // Making room is no revocation: the caller decides whether answers in flight may be stored.
      if (size >= maxEntries) drop(order.first!);
      let entries = answers.get(userId);
      if (!entries) answers.set(userId, (entries = new Map()));
      const answer: Answer = { userId, jti, until, prev: undefined, next: undefined };
      entries.set(jti, answer);
      order.append(answer);
      size += 1;
    },
    /** A revocation of the user's: every answer of theirs goes. */
    forget(userId: string) {
      const entries = answers.get(userId);
      if (!entries) return;
      for (const answer of entries.values()) order.remove(answer);
      size -= entries.size;
      answers.delete(userId);
    },
    clear() {
      answers.clear();
      order.clear();
      size = 0;
    },
    /** Answers held. */
    get size() {
      return size;
    },
    /** Users with answers held (none is kept without one). */
    get users() {
      return answers.size;
    },
  };
}
