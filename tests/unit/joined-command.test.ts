import { Command } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { joinedCommand } from '../../src/sessions/authenticate-command.js';

/** The bytes ioredis would send for the command: the socket encodes a string as UTF-8. */
const ioredisBytes = (name: string, args: (string | number)[]) => Buffer.from(new Command(name, args).toWritable({}));

const TRICKY = ['', 'a', 'jwt:{x}:s:y', 'é', 'ÿ', 'ключ', '🔑', '\ud800', 'a\udc00b', '\r\n', '\0', '$3\r\nfoo\r\n', 'x'.repeat(70_000), `é${'x'.repeat(5000)}`];

/** A string of random UTF-16 code units, lone surrogates and controls included. */
function randomString(length: number): string {
  const ranges = [0x7f, 0xff, 0x7ff, 0xffff];
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(Math.floor(Math.random() * (ranges[Math.floor(Math.random() * ranges.length)] as number)));
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
    for (let round = 0; round < 300; round++) {
      const args = Array.from({ length: 1 + Math.floor(Math.random() * 8) }, (_, i) =>
        round % 2 === 0 ? randomString(Math.floor(Math.random() * 40)) : `key:${i}:${Math.random().toString(36)}`,
      );
      expect(Buffer.from(joinedCommand('evalsha', args))).toEqual(ioredisBytes('evalsha', args));
    }
  });
});
