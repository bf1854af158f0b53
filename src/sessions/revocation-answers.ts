import { createFifoQueue } from '../util/fifo-queue.js';

/**
 * Expired answers each `remember` drops from the oldest end: answers are kept at most the same
 * `maxAgeMs`, so they expire about in the order remembered, and the cache holds about what is
 * still valid, not its cap.
 */
const SWEPT_PER_REMEMBER = 4;
/** Answers forgotten or remembered again leave their place in the queue; past this many, it is rebuilt. */
const STALE_ALLOWED = 1024;

/** One answer: until when the pair (user, `jti`) may be answered 'ok' from here. */
interface Answer {
  userId: string;
  jti: string;
  until: number;
}

/**
 * `cached` revocation mode's answers: until when the pair (user, `jti`) may be answered 'ok'
 * without asking Redis (`performance.now()` ms), grouped by user so that a revocation drops all of
 * a user's at once, and queued in the order remembered, for the sweep and for making room. At most
 * `maxEntries` answers (making room drops the oldest).
 */
export function createRevocationAnswers(maxEntries: number) {
  const answers = new Map<string, Map<string, Answer>>();
  let size = 0;
  // Every answer in the order remembered; one forgotten or remembered again stays behind, stale.
  const queue = createFifoQueue<Answer>();
  const held = (answer: Answer) => answers.get(answer.userId)?.get(answer.jti) === answer;

  /** Drops an answer still held. */
  const drop = (answer: Answer) => {
    const entries = answers.get(answer.userId)!;
    entries.delete(answer.jti);
    size -= 1;
    if (entries.size === 0) answers.delete(answer.userId);
  };
  /** The oldest answer still held, past stale places. */
  const oldest = () => {
    let first = queue.peek();
    while (first !== undefined && !held(first)) {
      queue.shift();
      first = queue.peek();
    }
    return first;
  };

  return {
    /** Until when `jti` of `userId` may be answered 'ok' from here, if remembered. */
    until: (userId: string, jti: string) => answers.get(userId)?.get(jti)?.until,
    remember(userId: string, jti: string, until: number, now: number) {
      if (maxEntries <= 0) return;
      for (let swept = 0; swept < SWEPT_PER_REMEMBER; swept++) {
        const first = oldest();
        if (first === undefined || first.until > now) break;
        drop(queue.shift()!);
      }
      let entries = answers.get(userId);
      // Making room is no revocation: the caller decides whether answers in flight may be stored.
      if (!entries?.has(jti) && size >= maxEntries) {
        drop(oldest()!);
        entries = answers.get(userId);
      }
      if (queue.length >= 2 * size + STALE_ALLOWED) queue.retain(held);
      if (!entries) answers.set(userId, (entries = new Map()));
      if (!entries.has(jti)) size += 1;
      const answer = { userId, jti, until };
      entries.set(jti, answer);
      queue.push(answer);
    },
    /** A revocation of the user's: every answer of theirs goes. */
    forget(userId: string) {
      const entries = answers.get(userId);
      if (!entries) return;
      size -= entries.size;
      answers.delete(userId);
    },
    clear() {
      answers.clear();
      size = 0;
      queue.clear();
    },
    /** Answers held. */
    get size() {
      return size;
    },
    /** Users with answers held (none is kept without one). */
    get users() {
      return answers.size;
    },
    /** Places in the queue, stale ones included (at most twice the answers, plus `STALE_ALLOWED`). */
    get queued() {
      return queue.length;
    },
  };
}

export type RevocationAnswers = ReturnType<typeof createRevocationAnswers>;
