import { createInsertionList, type ListNode } from '../util/insertion-list.js';

/**
 * Expired answers each `remember` drops from the oldest end (`makeRoom`): answers are kept at most
 * the same `maxAgeMs`, so they expire about in the order remembered.
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

  const drop = (answer: Answer) => {
    const entries = answers.get(answer.userId)!;
    entries.delete(answer.jti);
    if (entries.size === 0) answers.delete(answer.userId);
    order.remove(answer);
  };

  return {
    /** Until when `jti` of `userId` may be answered 'ok' from here, if remembered. */
    until: (userId: string, jti: string) => answers.get(userId)?.get(jti)?.until,
    remember(userId: string, jti: string, until: number, now: number) {
      // Remembered again, an answer is the newest.
      const known = answers.get(userId)?.get(jti);
      if (known) drop(known);
      // Making room is no revocation: the caller decides whether answers in flight may be stored.
      order.makeRoom(maxEntries, SWEPT_PER_REMEMBER, (oldest) => oldest.until <= now, drop);
      let entries = answers.get(userId);
      if (!entries) answers.set(userId, (entries = new Map()));
      const answer: Answer = { userId, jti, until, prev: undefined, next: undefined };
      entries.set(jti, answer);
      order.append(answer);
    },
    /** A revocation of the user's: every answer of theirs goes. */
    forget(userId: string) {
      const entries = answers.get(userId);
      if (!entries) return;
      for (const answer of entries.values()) order.remove(answer);
      answers.delete(userId);
    },
    clear() {
      answers.clear();
      order.clear();
    },
    /** Answers held. */
    get size() {
      return order.size;
    },
    /** Users with answers held (none is kept without one). */
    get users() {
      return answers.size;
    },
  };
}
