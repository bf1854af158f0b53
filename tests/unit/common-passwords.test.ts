import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { commonPasswordsFile, loadCommonPasswords } from '../../src/passwords/common-passwords.js';
import { checkPassword } from '../../src/passwords/policy.js';

describe('common-password list', () => {
  const commonPasswords = loadCommonPasswords();
  const policy = { minLength: 8, maxLength: 128, commonPasswords };

  it('is found next to src/ and dist/ and holds at least 10,000 lower-cased entries', () => {
    expect(commonPasswordsFile).toMatch(/[/\\]assets[/\\]common-passwords\.txt$/);
    expect(existsSync(commonPasswordsFile)).toBe(true);
    expect(commonPasswords.size).toBeGreaterThanOrEqual(10_000);
    expect([...commonPasswords].filter((entry) => entry !== entry.toLowerCase())).toEqual([]);
  });

  it('rejects common passwords whatever their case', () => {
    for (const password of ['password', 'PASSWORD', 'Password1', '12345678', 'QwErTyUiOp', 'iloveyou', 'TrustNo1', 'letmein123']) {
      expect(checkPassword(password, policy), password).toMatch(/most commonly used/);
    }
  });

  it('accepts a long unusual passphrase and a password merely containing a common one', () => {
    expect(checkPassword('violet tractor hums beside cold pancakes', policy)).toBeNull();
    expect(checkPassword('password-for-the-lighthouse-keeper', policy)).toBeNull();
  });

  it('checks length first, so a short common password gets the length message', () => {
    expect(checkPassword('123456', policy)).toMatch(/at least 8/);
  });

  it('skips the list check without a list', () => {
    expect(checkPassword('password', { minLength: 8, maxLength: 128 })).toBeNull();
  });

  describe('loading another file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'common-passwords-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('lower-cases, trims and skips blank lines', () => {
      const file = join(dir, 'list.txt');
      writeFileSync(file, 'Hunter2\r\n\n  Dragon  \nhunter2\n');
      expect([...loadCommonPasswords(file)]).toEqual(['hunter2', 'dragon']);
    });

    it('refuses a missing or empty file, so a broken deployment does not start without the check', () => {
      expect(() => loadCommonPasswords(join(dir, 'missing.txt'))).toThrow(/ENOENT/);
      const empty = join(dir, 'empty.txt');
      writeFileSync(empty, '\n');
      expect(() => loadCommonPasswords(empty)).toThrow(/no passwords/);
    });
  });

  it('is on by default (passwords.reject_common)', () => {
    expect(configSchema.parse({}).passwords.reject_common).toBe(true);
  });
});
