import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { hash as argon2Hash } from '@node-rs/argon2';
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createArgon2Threads } from '../../src/passwords/argon2-threads.js';
import { argon2Options, createPasswordHasher } from '../../src/passwords/hasher.js';
import { verifiesFor } from '../../src/passwords/normal-form.js';
import { checkPassword } from '../../src/passwords/policy.js';
import { TSX_LOADER } from '../helpers/tsx-loader.js';

describe('password hasher', () => {
  const hasher = createPasswordHasher({ concurrency: 2 });

  it('hashes with argon2id at the OWASP minimum and matches the same password only', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await hasher.match(hash, 'correct horse battery staple')).toBe('normal');
    expect(await hasher.match(hash, 'correct horse battery stapl')).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it('uses a fresh salt per hash', async () => {
    expect(await hasher.hash('same password')).not.toBe(await hasher.hash('same password'));
  });

  it('does not truncate long passwords', async () => {
    const prefix = 'x'.repeat(99);
    const hash = await hasher.hash(`${prefix}a`);
    expect(await hasher.match(hash, `${prefix}a`)).toBe('normal');
    expect(await hasher.match(hash, `${prefix}b`)).toBe(false);
  });

  it('handles non-ASCII passwords', async () => {
    const hash = await hasher.hash('pässwörd 🔑 пароль');
    expect(await hasher.match(hash, 'pässwörd 🔑 пароль')).toBe('normal');
    expect(await hasher.match(hash, 'passwörd 🔑 пароль')).toBe(false);
  });

  it('one password in every Unicode form (NFKC): precomposed or decomposed accents, full-width letters', async () => {
    const precomposed = 'caf\u00e9 au lait';
    const decomposed = 'cafe\u0301 au lait';
    const hash = await hasher.hash(decomposed);
    expect(await hasher.match(hash, precomposed)).toBe('normal');
    expect(await hasher.match(hash, decomposed)).toBe('normal');
    expect(await hasher.match(hash, 'cafe au lait')).toBe(false);
    expect(await hasher.match(await hasher.hash('\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44'), 'password')).toBe('normal');
  });

  it('a hash made from the form as sent (before normalisation) still matches it, saying so', async () => {
    const decomposed = 'cafe\u0301 au lait';
    const legacy = await argon2Hash(decomposed, argon2Options);
    expect(await hasher.match(legacy, decomposed)).toBe('as-sent');
    // Only the form it was made from: the other cannot be told from a wrong password.
    expect(await hasher.match(legacy, 'caf\u00e9 au lait')).toBe(false);
  });

  it('a password whose normal form differs costs two verifies, known e-mail or not (no timing oracle), and needs two places', async () => {
    const calls: string[] = [];
    const threads = createArgon2Threads(1);
    const counted = createPasswordHasher({
      concurrency: 1,
      maxQueue: 4,
      threads: { ...threads, run: (batch) => (calls.push(...batch.map((call) => call.op)), threads.run(batch)) },
    });
    const hash = await counted.hash('plain ascii password');
    await counted.verifyDummy('warm-up: makes the dummy hash');
    calls.length = 0;
    expect(await counted.match(hash, 'wrong but plain')).toBe(false);
    expect(await counted.verifyDummy('unknown but plain')).toBe(false);
    expect(calls).toEqual(['verify', 'verify']);
    calls.length = 0;
    expect(await counted.match(hash, 'wrong cafe\u0301')).toBe(false);
    expect(calls).toEqual(['verify', 'verify']);
    calls.length = 0;
    expect(await counted.verifyDummy('unknown cafe\u0301')).toBe(false);
    expect(calls).toEqual(['verify', 'verify']);
    expect(verifiesFor('cafe\u0301')).toBe(2);
    expect(verifiesFor('caf\u00e9')).toBe(1);
    await counted.close();
  });

  it('the first unknown e-mail makes the dummy hash (costing what a verify costs), then tries the form as sent if it differs', async () => {
    const calls: string[] = [];
    const threads = createArgon2Threads(1);
    const counted = createPasswordHasher({ concurrency: 1, threads: { ...threads, run: (batch) => (calls.push(...batch.map((call) => call.op)), threads.run(batch)) } });
    expect(await counted.verifyDummy('unknown cafe\u0301')).toBe(false);
    expect(calls).toEqual(['hash', 'verify']);
    await counted.close();
  });

  it('returns false for malformed hashes instead of throwing', async () => {
    for (const bad of ['', 'not a hash', '$argon2id$v=19$m=19456,t=2,p=1$', '$2b$10$abcdefghijklmnopqrstuv']) {
      expect(await hasher.match(bad, 'whatever')).toBe(false);
    }
  });

  it('verifies a dummy hash for unknown users and always answers false', async () => {
    expect(await hasher.verifyDummy('anything')).toBe(false);
    expect(await hasher.verifyDummy('anything else')).toBe(false);
  });

  it('asks for a rehash of weaker or foreign hashes', () => {
    expect(hasher.needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$qL5TOSgyW8dHqZl2lCnTFJxg5jwOnEVhORFUPbSCqX8')).toBe(true);
    expect(hasher.needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qL5TOSgyW8dHqZl2lCnTFJxg5jwOnEVhORFUPbSCqX8')).toBe(true);
    expect(hasher.needsRehash('garbage')).toBe(true);
  });

  it('bounds concurrency and rejects beyond the queue limit with a retryable unavailable error', async () => {
    const small = createPasswordHasher({ concurrency: 1, maxQueue: 1 });
    const running = small.hash('first');
    const queued = small.hash('second');
    expect(small.queueDepth()).toBe(1);
    // Full: refused before the caller does any other work, with the same error as the queue's.
    expect(() => small.reserve()).toThrow(expect.objectContaining({ code: 'unavailable', status: 503, retryAfter: 1 }));

    const rejected = await small.hash('third').catch((error: unknown) => error);
    expect(rejected).toBeInstanceOf(AppError);
    expect(rejected).toMatchObject({ code: 'unavailable', status: 503, retryAfter: 1 });
    expect(await small.match('$argon2id$bad', 'x').catch((error: unknown) => error)).toBeInstanceOf(AppError);

    await expect(Promise.all([running, queued])).resolves.toHaveLength(2);
    expect(small.queueDepth()).toBe(0);
    expect(await small.match(await queued, 'second')).toBe('normal');
    await small.close();
  });

  it('a place taken at the door counts as queued, and its one operation runs even when the queue has filled since', async () => {
    const small = createPasswordHasher({ concurrency: 1, maxQueue: 1 });
    const first = small.reserve();
    const second = small.reserve();
    expect(() => small.reserve()).toThrow(expect.objectContaining({ code: 'unavailable' }));
    // Calls without a place find no room: both places are spoken for.
    expect(await small.hash('no place').catch((error: unknown) => error)).toBeInstanceOf(AppError);
    const hashes = Promise.all([small.hash('one', first), small.hash('two', second)]);
    // A place serves one operation: used again, it is no place at all.
    expect(await small.hash('again', first).catch((error: unknown) => error)).toBeInstanceOf(AppError);
    const [one, two] = await hashes;
    expect(await small.match(one, 'one')).toBe('normal');
    expect(await small.match(two, 'two')).toBe('normal');

    // A place given back unused frees its room; giving it back twice frees nothing more.
    const held = small.reserve();
    const other = small.reserve();
    held.release();
    held.release();
    const third = small.reserve();
    expect(() => small.reserve()).toThrow(expect.objectContaining({ code: 'unavailable' }));
    other.release();
    third.release();
    expect(await small.verifyDummy('anything', small.reserve())).toBe(false);
    await small.close();
  });

  it('places for several operations: each use takes one, the rest go back on release', async () => {
    const small = createPasswordHasher({ concurrency: 1, maxQueue: 2 });
    expect(() => small.reserve(4)).toThrow(expect.objectContaining({ code: 'unavailable' }));
    const two = small.reserve(2);
    expect(small.queueDepth()).toBe(2);
    const one = small.reserve();
    expect(() => small.reserve()).toThrow(expect.objectContaining({ code: 'unavailable' }));
    const checked = await small.hash('first', two);
    expect(await small.match(checked, 'first', two)).toBe('normal');
    // Both of `two`'s places are used: only `one`'s is still held.
    expect(small.queueDepth()).toBe(1);
    one.release();
    expect(small.queueDepth()).toBe(0);
    const again = small.reserve(2);
    again.release();
    expect(small.queueDepth()).toBe(0);
    expect(() => small.reserve(3)).not.toThrow();
    await small.close();
  });

  it('runs operations that queued up behind a busy thread as one batch, each answered with its own result', async () => {
    const one = createPasswordHasher({ concurrency: 1 });
    const hash = await one.hash('right password');
    const first = one.match(hash, 'right password');
    // Queued while the thread runs `first`: right, wrong, unreadable and a new hash, in that order.
    const queued = [one.match(hash, 'right password'), one.match(hash, 'wrong password'), one.match('$argon2id$unreadable', 'x'), one.hash('another')];
    expect(await first).toBe('normal');
    // A verify takes milliseconds: answered one by one, the others would still be running when
    // the first of them is answered; answered as a batch, all four are settled in the same turn.
    const nextTurn = () => new Promise<false>((resolve) => setImmediate(() => resolve(false)));
    const together = await (queued[0] as Promise<unknown>).then(() => Promise.race([Promise.all(queued).then(() => true), nextTurn()]));
    expect(together).toBe(true);
    const [right, wrong, unreadable, another] = await Promise.all(queued);
    expect([right, wrong, unreadable]).toEqual(['normal', false, false]);
    expect(await one.match(another as string, 'another')).toBe('normal');
    expect(one.queueDepth()).toBe(0);
    await one.close();
  });

  it('a thread that fails its batch rejects it (no answer, not a wrong password) and is replaced', async () => {
    const threads = createArgon2Threads(1);
    try {
      // Not a list of calls: the thread's handler throws outside any one call, and the thread ends.
      await expect(threads.run(42 as never)).rejects.toThrow();
      const [reply] = await threads.run([{ op: 'hash', args: ['after the failure', argon2Options] }]);
      expect(reply?.value).toMatch(/^\$argon2id\$/);
    } finally {
      await threads.close();
    }
  });

  it('a thread that cannot start is started again less and less often, never in a loop, and its batches fail', async () => {
    const failures: Error[] = [];
    const threads = createArgon2Threads(2, { module: '/nonexistent/argon2.node', onFailure: (error) => failures.push(error) });
    try {
      await expect(threads.run([{ op: 'verify', args: ['$argon2id$v=19$m=19456,t=2,p=1$x$y', 'x'] }])).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // Two threads failing together: at once, then after 100, 200, 400 and 800 ms: about 6 in 1.5 s
      // (with no wait between them, 82 here: each start costs about 18 ms).
      expect(failures.length).toBeGreaterThanOrEqual(3);
      expect(failures.length).toBeLessThanOrEqual(12);
      expect(String(failures[0])).toMatch(/nonexistent/);
    } finally {
      await threads.close();
    }
    const seen = failures.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(failures.length).toBe(seen);
    await expect(threads.run([])).rejects.toThrow(/closed/);
  });

  it('a batch given while its thread waits to start again runs once it has (not a 503)', async () => {
    const threads = createArgon2Threads(1);
    try {
      // Two failures with no answer between: the second thread is started again after 100 ms.
      await expect(threads.run(42 as never)).rejects.toThrow();
      await expect(threads.run(42 as never)).rejects.toThrow();
      const [reply] = await threads.run([{ op: 'hash', args: ['while restarting', argon2Options] }]);
      expect(reply?.value).toMatch(/^\$argon2id\$/);
    } finally {
      await threads.close();
    }
  });

  it('a batch waiting for its thread to start again keeps the process alive until answered', async () => {
    // A process with nothing else open (the admin CLI on the embedded store): the wait must hold it.
    const threadsModule = pathToFileURL(resolve(import.meta.dirname, '../../src/passwords/argon2-threads.ts')).href;
    const script = `const { createArgon2Threads } = await import(${JSON.stringify(threadsModule)});
      const threads = createArgon2Threads(1);
      await threads.run(42).catch(() => {});
      await threads.run(42).catch(() => {});
      const [reply] = await threads.run([{ op: 'verify', args: [${JSON.stringify(await hasher.hash('x'))}, 'x'] }]);
      console.log(JSON.stringify(reply));
      await threads.close();`;
    const dir = mkdtempSync(join(tmpdir(), 'jwt-argon2-'));
    try {
      writeFileSync(join(dir, 'park.mjs'), script);
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', TSX_LOADER, join(dir, 'park.mjs')], { timeout: 20_000 });
      expect(stdout.trim()).toBe('{"value":true}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('close() fails a batch still waiting for its thread to start again', async () => {
    const threads = createArgon2Threads(1);
    await expect(threads.run(42 as never)).rejects.toThrow();
    await expect(threads.run(42 as never)).rejects.toThrow();
    const waiting = threads.run([{ op: 'hash', args: ['never run', argon2Options] }]);
    await threads.close();
    await expect(waiting).rejects.toThrow('argon2 threads closed');
  });

  it('a failed batch rejects its operations with a retryable unavailable error, never a wrong password', async () => {
    const real = createArgon2Threads(1);
    let failures = [new Error('the thread died'), 'no reply'];
    // Real threads, but the first batch fails as a dying thread fails it and the second has no replies.
    const threads = {
      run: (calls: Parameters<typeof real.run>[0]) => {
        const failure = failures.shift();
        if (failure instanceof Error) return Promise.reject(failure);
        return failure === undefined ? real.run(calls) : Promise.resolve([]);
      },
      close: () => real.close(),
    };
    const own = createPasswordHasher({ concurrency: 1, threads });
    try {
      const passwordHash = await hasher.hash('the password');
      const unavailable = { name: 'AppError', code: 'unavailable', retryAfter: 1 };
      await expect(own.match(passwordHash, 'the password')).rejects.toMatchObject(unavailable);
      await expect(own.verifyDummy('the password')).rejects.toMatchObject(unavailable);
      expect(failures).toEqual([]);
      expect(await own.match(passwordHash, 'the password')).toBe('normal');
      expect(own.queueDepth()).toBe(0);
    } finally {
      failures = [];
      await own.close();
    }
  });

  it('validates its options when built', () => {
    expect(() => createPasswordHasher({ concurrency: 0 })).toThrow(RangeError);
    expect(() => createPasswordHasher({ concurrency: 1, maxQueue: -1 })).toThrow(RangeError);
  });
});

describe('password policy', () => {
  const policy = { minLength: 8, maxLength: 20 };

  it('accepts a password within the limits', () => {
    expect(checkPassword('long enough', policy)).toBeNull();
    expect(checkPassword('a'.repeat(20), policy)).toBeNull();
  });

  it('rejects too short and too long passwords', () => {
    expect(checkPassword('short', policy)).toMatch(/at least 8/);
    expect(checkPassword('a'.repeat(21), policy)).toMatch(/at most 20/);
  });

  it('counts Unicode code points, not UTF-16 units or bytes', () => {
    // Eight emoji: 16 UTF-16 units and 32 bytes, but eight characters.
    expect(checkPassword('🔑'.repeat(8), policy)).toBeNull();
    expect(checkPassword('🔑'.repeat(7), policy)).toMatch(/at least 8/);
    expect(checkPassword('🔑'.repeat(20), policy)).toBeNull();
    expect(checkPassword('🔑'.repeat(21), policy)).toMatch(/at most 20/);
  });

  it('checks the form that is hashed (NFKC): decomposed accents count once, full-width letters are the common password they spell', () => {
    // 'e' + U+0301 is one character once composed: seven, not eight.
    expect(checkPassword('cafe\u0301abc', policy)).toMatch(/at least 8/);
    const common = { ...policy, commonPasswords: new Set(['password']) };
    expect(checkPassword('\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44', common)).toMatch(/commonly used/);
  });

  it('refuses input too long for any normal form before normalising it, never a password whose normal form fits', () => {
    // U+1F84 (ᾄ) sent decomposed: four code points each, twenty once composed.
    const decomposed = '\u03b1\u0313\u0301\u0345';
    expect(decomposed.normalize('NFKC')).toBe('\u1f84');
    expect(checkPassword(decomposed.repeat(20), policy)).toBeNull();
    expect(checkPassword(decomposed.repeat(21), policy)).toMatch(/at most 20/);
    // Refused before the work of normalising it.
    const normalize = vi.spyOn(String.prototype, 'normalize');
    try {
      expect(checkPassword('a'.repeat(5_000), policy)).toMatch(/at most 20/);
      expect(normalize).not.toHaveBeenCalled();
    } finally {
      normalize.mockRestore();
    }
  });

  it('rejects the e-mail address as password, whatever its case', () => {
    expect(checkPassword('Alice@Example.com', policy, 'alice@example.com')).toMatch(/e-mail/);
    expect(checkPassword('alice@example.com', policy, 'ALICE@EXAMPLE.COM')).toMatch(/e-mail/);
    expect(checkPassword('alice@example.org', policy, 'alice@example.com')).toBeNull();
  });
});
