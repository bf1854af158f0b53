import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseOptions } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';
import { AppError, OverloadedError } from '../errors.js';
import { type Argon2Threads, type Call, createArgon2Threads, type Reply } from './argon2-threads.js';
import { normalPassword, verifiesFor } from './normal-form.js';

interface Job {
  call: Call;
  settle: (reply: Reply) => void;
  /** The thread failed the batch: no answer, which must not read as a wrong password. */
  fail: (error: Error) => void;
}

/**
 * Most operations a thread takes at once: it runs them back to back and answers them in one
 * message. Only a queue makes batches (a thread that finds one operation waiting takes it alone),
 * so this is the storm's shape: the event loop then wakes once per batch instead of once per
 * login, and the batch's logins go on together, their next steps handled in the same rounds.
 * Measured in a 10 s storm of 200 clients on one core (A/B, 3 runs of 2 storms each): the event
 * loop's CPU fell from 3.1 to 2.2 s (medians) and logins/s from 63% to 69% of argon2 alone; a
 * batch's first answer waits for the rest, at most 7 more verifies (~85 ms here) in a queue
 * that already holds up to `maxQueue` (64) of them.
 */
const MAX_BATCH = 8;

/** argon2id; the package declares its enums `const`, which isolated modules cannot read. */
const argon2id: Algorithm = 2;
/** Argon2 version 0x13 (the package's `Version.V0x13`). */
const version0x13 = 1;

/**
 * argon2 threads when `passwords.hash_concurrency` is 0: one fewer than cores, so a core is left
 * to the event loop (/authenticate stays fast during a login storm), from 1 to 4 (each thread
 * holds ~19 MiB while hashing, and a container without a CPU limit sees every core of its node).
 */
export const defaultHashConcurrency = (): number => Math.min(4, Math.max(1, availableParallelism() - 1));

/** OWASP Password Storage Cheat Sheet minimum for argon2id. */
export const argon2Options = { algorithm: argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * Places in the argon2 queue taken at the door, before a request's other work (rate limits, the
 * user read), one per argon2 operation it will run: a request let in is never refused for load
 * after that work, and one refused has done none of it.
 */
export interface HashPlace {
  /** Gives back the places no operation used; a no-op afterwards. */
  release(): void;
}

/**
 * How a password matched its hash: in its normal form (`normalPassword`), or only as sent, which
 * a hash made before passwords were normalised does, and which should then be replaced.
 */
export type PasswordMatch = false | 'normal' | 'as-sent';

export interface PasswordHasher {
  /** An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of the password's normal form. */
  hash(password: string, place?: HashPlace): Promise<string>;
  /**
   * Checks a password: the normal form first, then the form as sent if it differs (`verifiesFor`:
   * two verifies). `false` for a wrong password and for a hash that cannot be parsed; never throws
   * for either. Rejects (`unavailable`) if its thread fails, which is no answer about the password.
   */
  match(passwordHash: string, password: string, place?: HashPlace): Promise<PasswordMatch>;
  /**
   * What `match` runs, against a fixed dummy hash, for unknown e-mails, so that a miss costs
   * the same time as a wrong password. Always resolves `false`.
   */
  verifyDummy(password: string, place?: HashPlace): Promise<false>;
  /** The hash was made with weaker parameters than today's (or is not argon2id at all). */
  needsRehash(passwordHash: string): boolean;
  /** argon2 operations waiting (behind another in their thread's batch too), and places held for later ones. */
  queueDepth(): number;
  /**
   * Takes places for `operations` later operations; refuses at once (`unavailable`, as a full
   * queue does) when there are not that many left.
   */
  reserve(operations?: number): HashPlace;
  /** Stops the argon2 threads (calls made afterwards fail). */
  close(): Promise<void>;
}

export interface PasswordHasherOptions {
  /** Most argon2 operations running at once (each takes ~19 MiB and a thread of its own). */
  concurrency: number;
  /** Most operations waiting for a slot; beyond it calls fail fast with `unavailable`. */
  maxQueue?: number;
  /**
   * The threads that run argon2 (`concurrency` new ones by default); a test passes ones that fail.
   * Given ones must be at least `concurrency`, and `close()` closes them.
   */
  threads?: Argon2Threads;
  /** Told of each argon2 thread that fails (the default threads only). */
  onThreadFailure?: (error: Error) => void;
}

/**
 * argon2id hashing behind a bounded queue: at most `concurrency` hashes run at once (on as many
 * low-priority threads, see `argon2-threads.ts`) and at most `maxQueue` wait, so a login flood
 * sheds load with 503 + Retry-After instead of exhausting memory. Operations that queued up
 * are handed to a free thread in batches (`MAX_BATCH`).
 */
export function createPasswordHasher({ concurrency, maxQueue = 64, threads: given, onThreadFailure }: PasswordHasherOptions): PasswordHasher {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError('maxQueue must be a non-negative integer');
  const threads = given ?? createArgon2Threads(concurrency, { onFailure: onThreadFailure });

  /** Threads running a batch. */
  let busyThreads = 0;
  /** Operations in those batches, the one running on each thread and those behind it. */
  let running = 0;
  /** Operations no thread has taken yet, oldest first. */
  const waiting: Job[] = [];
  /** Places taken and not yet used or given back: they count as waiting operations. */
  let heldCount = 0;
  /** Uses one of `place`'s places: false if none is left (or it is not one of ours). */
  const take = (place: HashPlace): boolean => {
    if (!(place instanceof Held) || place.left === 0) return false;
    place.left -= 1;
    heldCount -= 1;
    return true;
  };
  class Held implements HashPlace {
    constructor(public left: number) {
      heldCount += left;
    }
    release() {
      heldCount -= this.left;
      this.left = 0;
    }
  }

  const room = () => concurrency + maxQueue - running - waiting.length - heldCount;
  // One instance for every refusal (a storm refuses hundreds per second): its stack points to
  // start-up and means nothing; nothing may modify it.
  const busy = new OverloadedError('too many password checks in progress, retry shortly');
  /** A batch its thread failed: no answer, which must not read as a wrong password. */
  const failed = (cause: unknown) => new AppError('unavailable', 'password hashing failed, retry shortly', { retryAfter: 1, cause });

  /**
   * Hands waiting operations to free threads: each takes its share of the queue among all
   * threads (those about to come free get theirs too), at most `MAX_BATCH`.
   */
  const dispatch = (): void => {
    while (busyThreads < concurrency && waiting.length > 0) {
      const batch = waiting.splice(0, Math.min(MAX_BATCH, Math.ceil(waiting.length / concurrency)));
      busyThreads += 1;
      running += batch.length;
      // The thread is counted free before its jobs are answered: what a job does next may hash again.
      const finish = (answer: (job: Job, index: number) => void) => {
        busyThreads -= 1;
        running -= batch.length;
        batch.forEach(answer);
        dispatch();
      };
      threads.run(batch.map((job) => job.call)).then(
        (replies) => finish((job, i) => (replies[i] ? job.settle(replies[i]) : job.fail(failed('no reply')))),
        (error: unknown) => finish((job) => job.fail(failed(error))),
      );
    }
  };

  /** Runs `call` on a thread, on `place` if the caller holds one, else if there is room. */
  const limited = (call: Call, place?: HashPlace): Promise<Reply> => {
    if (!(place !== undefined && take(place)) && room() <= 0) return Promise.reject(busy);
    return new Promise<Reply>((settle, fail) => {
      waiting.push({ call, settle, fail });
      dispatch();
    });
  };

  const verifyQuietly = async (passwordHash: string, password: string, place?: HashPlace): Promise<boolean> =>
    (await limited({ op: 'verify', args: [passwordHash, password] }, place)).value === true;
  const hashIn = async (password: string, place?: HashPlace): Promise<string> => {
    const reply = await limited({ op: 'hash', args: [password, argon2Options] }, place);
    if (typeof reply.value !== 'string') throw new Error(`argon2 hash failed: ${reply.error ?? 'no result'}`);
    return reply.value;
  };

  let dummyHash: Promise<string> | undefined;
  const makeDummyHash = (place?: HashPlace): Promise<string> => {
    dummyHash = hashIn(randomBytes(32).toString('base64url'), place).catch((error: unknown) => {
      dummyHash = undefined;
      throw error;
    });
    return dummyHash;
  };

  const match = async (passwordHash: string, password: string, place?: HashPlace): Promise<PasswordMatch> => {
    const normal = normalPassword(password);
    if (await verifyQuietly(passwordHash, normal, place)) return 'normal';
    if (normal !== password && (await verifyQuietly(passwordHash, password, place))) return 'as-sent';
    return false;
  };

  return {
    hash: (password, place) => hashIn(normalPassword(password), place),
    match,
    async verifyDummy(password, place) {
      const ready = dummyHash;
      // The first call makes the dummy hash, which costs what a verify costs, in the caller's place.
      if (ready === undefined) {
        const made = await makeDummyHash(place);
        if (verifiesFor(password) === 2) await verifyQuietly(made, password, place);
      } else await match(await ready, password, place);
      return false;
    },
    needsRehash(passwordHash) {
      try {
        const used = parseOptions(passwordHash);
        return (
          used.algorithm !== argon2id ||
          used.version !== version0x13 ||
          used.memoryCost < argon2Options.memoryCost ||
          used.timeCost < argon2Options.timeCost ||
          used.parallelism < argon2Options.parallelism
        );
      } catch {
        return true;
      }
    },
    // Each busy thread runs one operation of its batch; the rest of the batch waits.
    queueDepth: () => waiting.length + heldCount + running - busyThreads,
    reserve(operations = 1) {
      if (room() < operations) throw busy;
      return new Held(operations);
    },
    close: () => threads.close(),
  } satisfies PasswordHasher;
}
