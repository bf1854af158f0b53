import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe('lockDataDir', () => {
  it('claims the directory and releases it', () => {
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n`);
    release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('refuses while another live process holds it, naming the process', () => {
    writeFileSync(lockFile, `${process.ppid}\n`);
    expect(() => lockDataDir(dir)).toThrow(`in use by process ${process.ppid}`);
    rmSync(lockFile);
  });

  it('takes over a lock left by a dead process or holding garbage', () => {
    for (const stale of ['2147483646\n', 'garbage']) {
      writeFileSync(lockFile, stale);
      const release = lockDataDir(dir);
      expect(readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n`);
      release();
    }
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
      await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
    }
  }

  it('lets exactly one of two processes claim a directory, free or holding a stale lock', { timeout: 30_000 }, async () => {
    const base = mkdtempSync(join(tmpdir(), 'jwt-lock-race-'));
    try {
      for (let i = 0; i < TRIALS; i++) {
        mkdirSync(join(base, String(i)));
        // Odd trials start from a lock a dead process left behind.
        if (i % 2 === 1) writeFileSync(join(base, String(i), 'jwt-cluster.pid'), '2147483646\n');
      }
      const results = await race(base, 2);
      for (let i = 0; i < TRIALS; i++) {
        const outcomes = results.map((result) => result.outcomes[i]).sort();
        expect(outcomes, `trial ${i}`).toEqual(['held', 'refused']);
      }
      // The race was run, not a queue: the contenders were on time for most trials.
      expect(results.every((result) => result.late < TRIALS / 2)).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
