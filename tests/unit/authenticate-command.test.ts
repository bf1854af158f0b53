import { Command } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { joinedCommand } from '../../src/sessions/authenticate-command.js';

/** The bytes ioredis would send for the command: the socket encodes a string as UTF-8. */
const ioredisBytes = (name: string, args: (string | number)[]) => Buffer.from(new Command(name, args).toWritable({}));

const TRICKY = ['', 'a', 'jwt:{x}:s:y', 'é', 'ÿ', 'ключ', '🔑', '\ud800', 'a\udc00b', '\r\n', '\0', '$3\r\nfoo\r\n', 'x'.repeat(70_000), `é${'x'.repeat(5000)}`];

/** A seeded generator (mulberry32): a failing round can be run again. */
function seeded(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A string of random UTF-16 code units, lone surrogates and controls included. */
function randomString(random: () => number, length: number): string {
  const ranges = [0x7f, 0xff, 0x7ff, 0xffff];
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(Math.floor(random() * (ranges[Math.floor(random() * ranges.length)] as number)));
  return out;
}

describe('joinedCommand', () => {
  test('writes the bytes ioredis writes, for every kind of argument', () => {
    for (const value of TRICKY) expect(Buffer.from(joinedCommand('evalsha', ['sha', value, '1']))).toEqual(ioredisBytes('evalsha', ['sha', value, '1']));
    expect(Buffer.from(joinedCommand('eval', TRICKY))).toEqual(ioredisBytes('eval', TRICKY));
    expect(Buffer.from(joinedCommand('evalsha', []))).toEqual(ioredisBytes('evalsha', []));
    // Numbers as ioredis writes them: key counts, token versions, durations.
    const numbers = [0, 3, 30, 1_800_000, 315_360_000_000, Number.MAX_SAFE_INTEGER];
    expect(Buffer.from(joinedCommand('evalsha', ['sha', ...numbers]))).toEqual(ioredisBytes('evalsha', ['sha', ...numbers]));
  });

  test('random strings, ASCII or not', () => {
    const seed = Date.now();
    const random = seeded(seed);
    for (let round = 0; round < 300; round++) {
      const args = Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i) =>
        round % 2 === 0 ? randomString(random, Math.floor(random() * 40)) : `key:${i}:${random().toString(36)}`,
      );
      expect(Buffer.from(joinedCommand('evalsha', args)), `seed ${seed}, round ${round}`).toEqual(ioredisBytes('evalsha', args));
    }
  });
});
