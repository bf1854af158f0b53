import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/users/data-dir-lock.js';
import { TSX_LOADER } from '../helpers/tsx-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'jwt-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lockFile = join(dir, 'jwt-cluster.pid');

/** The boot this machine runs in and a process's start time in clock ticks (stat(5) field 22). */
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};
/** What a lock of this process reads: its pid, a random token and its incarnation. */
const OURS = new RegExp(`^${process.pid}\\n[0-9a-f]{16}\\n${bootId} ${startOf(process.pid)}\\n$`);

const DEAD = '2147483646\n';
/** The breaker a process takes to remove a stale lock reading `text`. */
const breakerOf = (text: string) => join(dir, `jwt-cluster.pid.break-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`);

describe('lockDataDir', () => {
  it('claims the directory and releases it, leaving no other file', () => {
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile, 'utf8')).toMatch(OURS);
    expect(readdirSync(dir)).toEqual(['jwt-cluster.pid']);
    release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses while another live process holds it, naming the process', () => {
    writeFileSync(lockFile, `${process.ppid}\n`);
    expect(() => lockDataDir(dir)).toThrow(`in use by process ${process.ppid}`);
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.ppid}\n`);
    rmSync(lockFile);
  });

  it('refuses a second claim in the same process instead of taking its own lock for a stale one', () => {
    const release = lockDataDir(dir);
    const text = readFileSync(lockFile, 'utf8');
    expect(() => lockDataDir(dir)).toThrow('already open in this process');
    expect(readFileSync(lockFile, 'utf8')).toBe(text);
    release();
    // A lock with this pid that this process does not hold (a restarted container's pid 1) is stale.
    writeFileSync(lockFile, `${process.pid}\n0011223344556677\n`);
    lockDataDir(dir)();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes a live pid for its holder only while it is the same process: same boot, same start', () => {
    const parent = process.ppid;
    const live = `${parent}\n0011223344556677\n${bootId} ${startOf(parent)}\n`;
    writeFileSync(lockFile, live);
    expect(() => lockDataDir(dir)).toThrow(`in use by process ${parent}`);
    // The pid reused since: by a process started later, or after a reboot.
    for (const reused of [`${bootId} ${Number(startOf(parent)) + 1}`, `00000000-0000-0000-0000-000000000000 ${startOf(parent)}`]) {
      writeFileSync(lockFile, `${parent}\n0011223344556677\n${reused}\n`);
      lockDataDir(dir)();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over a lock left by a dead process, holding garbage, or left empty', () => {
    for (const stale of [DEAD, 'garbage', '']) {
      writeFileSync(lockFile, stale);
      const release = lockDataDir(dir);
      expect(readFileSync(lockFile, 'utf8')).toMatch(OURS);
      release();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('waits for a live process taking over the stale lock, then gives up naming it', () => {
    writeFileSync(lockFile, DEAD);
    writeFileSync(breakerOf(DEAD), `${process.ppid}\n`);
    expect(() => lockDataDir(dir, { takeoverWaitMs: 50 })).toThrow('another process has been taking over the stale lock');
    expect(readFileSync(lockFile, 'utf8')).toBe(DEAD);
    rmSync(breakerOf(DEAD));
    rmSync(lockFile);
  });

  it('recovers from a breaker left by a process that died taking over, and from one left by its recovery', () => {
    const deadBreaker = `${DEAD}0011223344556677\n`;
    writeFileSync(lockFile, DEAD);
    writeFileSync(breakerOf(DEAD), deadBreaker);
    writeFileSync(breakerOf(deadBreaker), `${DEAD}8899aabbccddeeff\n`);
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile, 'utf8')).toMatch(OURS);
    expect(readdirSync(dir)).toEqual(['jwt-cluster.pid']);
    release();
  });

  it('removes drafts and breakers of dead processes once it holds the lock, not those of a live one', () => {
    const deadDraft = join(dir, 'jwt-cluster.pid.00112233aabbccdd');
    const liveDraft = join(dir, 'jwt-cluster.pid.8899aabbccddeeff');
    writeFileSync(deadDraft, `${DEAD}00112233aabbccdd\n`);
    writeFileSync(liveDraft, `${process.ppid}\n8899aabbccddeeff\n`);
    writeFileSync(breakerOf('gone'), `${DEAD}ffeeddccbbaa9988\n`);
    const release = lockDataDir(dir);
    expect(readdirSync(dir).sort()).toEqual(['jwt-cluster.pid', 'jwt-cluster.pid.8899aabbccddeeff']);
    release();
    rmSync(liveDraft);
  });

  it('refuses a lock path that is not a regular file, at once, instead of looping', () => {
    symlinkSync(join(dir, 'nowhere'), lockFile);
    expect(() => lockDataDir(dir)).toThrow('jwt-cluster.pid is not a regular file: remove it');
    rmSync(lockFile);
    mkdirSync(lockFile);
    expect(() => lockDataDir(dir)).toThrow('jwt-cluster.pid is not a regular file: remove it');
    rmSync(lockFile, { recursive: true });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('lockDataDir, processes racing', () => {
  const contender = fileURLToPath(new URL('../helpers/lock-contender.ts', import.meta.url));
  const TRIALS = 40;
  const SPACING_MS = 15;

  type Contender = ChildProcessByStdio<Writable, Readable, null>;
  /** A reader of `child`'s lines, in order (readline buffers those not asked for yet). */
  const lines = (child: Contender) => {
    const reader = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    return async () => {
      const next = await reader.next();
      if (next.done) throw new Error(`contender exited (${child.exitCode}) before its line`);
      return next.value;
    };
  };

  /** Starts `count` contenders, tells them all when to start once each is ready; returns each one's outcomes. */
  async function race(base: string, count: number): Promise<{ outcomes: string[]; late: number }[]> {
    const children = Array.from({ length: count }, () => spawn(process.execPath, ['--import', TSX_LOADER, contender, base, String(TRIALS), String(SPACING_MS)], { stdio: ['pipe', 'pipe', 'inherit'], timeout: 25_000, killSignal: 'SIGKILL' }));
    const readers = children.map(lines);
    try {
      await Promise.all(readers.map((next) => next()));
      const startAt = Date.now() + 500;
      const reports = readers.map((next) => next());
      for (const child of children) child.stdin.write(`${startAt}\n`);
      return (await Promise.all(reports)).map((report) => JSON.parse(report));
    } finally {
      for (const child of children) child.stdin.end();
      const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
      const killer = setTimeout(() => running.forEach((child) => child.kill('SIGKILL')), 5_000);
      await Promise.all(running.map((child) => once(child, 'exit')));
      clearTimeout(killer);
    }
  }

  it('lets exactly one of three processes claim a directory, free or holding a stale lock', { timeout: 30_000 }, async () => {
    const base = mkdtempSync(join(tmpdir(), 'jwt-lock-race-'));
    try {
      for (let i = 0; i < TRIALS; i++) {
        mkdirSync(join(base, String(i)));
        // Odd trials start from a lock a dead process left behind.
        if (i % 2 === 1) writeFileSync(join(base, String(i), 'jwt-cluster.pid'), DEAD);
      }
      const results = await race(base, 3);
      for (let i = 0; i < TRIALS; i++) {
        const outcomes = results.map((result) => result.outcomes[i]).sort();
        expect(outcomes, `trial ${i}`).toEqual(['held', 'refused', 'refused']);
        // No draft or breaker left behind.
        expect(readdirSync(join(base, String(i))), `trial ${i}`).toEqual(['jwt-cluster.pid']);
      }
      // The race was run, not a queue: the contenders were on time for most trials.
      expect(results.every((result) => result.late < TRIALS / 2)).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
