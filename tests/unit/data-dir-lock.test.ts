import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/users/data-dir-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'jwt-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lockFile = join(dir, 'jwt-cluster.pid');

/** What a lock of this process reads: its pid and a random token. */
const OURS = new RegExp(`^${process.pid}\\n[0-9a-f]{16}\\n$`);

describe('lockDataDir', () => {
  it('claims the directory and releases it, leaving no other file', () => {
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile, 'utf8')).toMatch(OURS);
    expect(readdirSync(dir)).toEqual(['jwt-cluster.pid']);
    release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('refuses while another live process holds it, naming the process', () => {
    writeFileSync(lockFile, `${process.ppid}\n`);
    expect(() => lockDataDir(dir)).toThrow(`in use by process ${process.ppid}`);
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.ppid}\n`);
    rmSync(lockFile);
  });

  it('takes over a lock left by a dead process, holding garbage, or left empty', () => {
    for (const stale of ['2147483646\n', 'garbage', '']) {
      writeFileSync(lockFile, stale);
      // An empty lock is being written for its first 50 ms (a filesystem without hard links).
      utimesSync(lockFile, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      const release = lockDataDir(dir);
      expect(readFileSync(lockFile, 'utf8')).toMatch(OURS);
      release();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes a breaker left by a process that died while breaking a stale lock', () => {
    const breaker = join(dir, 'jwt-cluster.pid.break');
    writeFileSync(lockFile, '2147483646\n');
    writeFileSync(breaker, '2147483645\n');
    utimesSync(breaker, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile, 'utf8')).toMatch(OURS);
    release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives up with a clear error, not a hang, when the lock path is not a regular file', () => {
    symlinkSync(join(dir, 'nowhere'), lockFile);
    expect(() => lockDataDir(dir)).toThrow('could not claim the embedded database');
    rmSync(lockFile);
  });
});

describe('lockDataDir, processes racing', () => {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const contender = fileURLToPath(new URL('../helpers/lock-contender.ts', import.meta.url));
  const TRIALS = 40;
  const SPACING_MS = 15;

  /** The next line `child` prints. */
  function line(child: ChildProcessByStdio<Writable, Readable, null>): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const end = out.indexOf('\n');
        if (end < 0) return;
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(out.slice(0, end));
      };
      const onExit = (code: number | null) => reject(new Error(`contender exited (${code}) before its line`));
      child.stdout.on('data', onData);
      child.on('exit', onExit);
    });
  }

  /** Starts `count` contenders, tells them all when to start once each is ready; returns each one's outcomes. */
  async function race(base: string, count: number): Promise<{ outcomes: string[]; late: number }[]> {
    const children = Array.from({ length: count }, () => spawn(process.execPath, ['--import', tsxLoader, contender, base, String(TRIALS), String(SPACING_MS)], { stdio: ['pipe', 'pipe', 'inherit'] }));
    try {
      await Promise.all(children.map(line));
      const startAt = Date.now() + 200;
      const reports = children.map(line);
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
        if (i % 2 === 1) writeFileSync(join(base, String(i), 'jwt-cluster.pid'), '2147483646\n');
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
