import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
