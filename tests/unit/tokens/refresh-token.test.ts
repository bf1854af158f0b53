import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRefreshTokenCodec, type DecodedRefreshToken, type RefreshTokenPayload } from '../../../src/tokens/refresh-token.js';

const codec = createRefreshTokenCodec(createSecretKey(randomBytes(32)));
const otherCodec = createRefreshTokenCodec(createSecretKey(randomBytes(32)));
const SHAPE = /^rt1\.[A-Za-z0-9_-]{48}\.[A-Za-z0-9_-]{43}$/;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const payload = (overrides: Partial<RefreshTokenPayload> = {}): RefreshTokenPayload => ({
  userId: randomUUID(),
  sessionId: randomUUID(),
  generation: 1,
  ...overrides,
});
const salt = () => randomBytes(16).toString('base64url');

function parts(token: string): { body: string; mac: string } {
  const [prefix, body, mac] = token.split('.');
  expect(prefix).toBe('rt1');
  return { body: body ?? '', mac: mac ?? '' };
}

function decoded(token: string): DecodedRefreshToken {
  const result = codec.decode(token);
  if (!result) throw new Error(`expected ${token} to decode`);
  return result;
}

/** Replaces the base64url character at `index` with the next one of the alphabet. */
function bumpChar(text: string, index: number): string {
  const next = BASE64URL[(BASE64URL.indexOf(text.charAt(index)) + 1) % BASE64URL.length] ?? 'A';
  return `${text.slice(0, index)}${next}${text.slice(index + 1)}`;
}

describe('refresh token codec: encode / decode', () => {
  it('round-trips user id, session id and generation', () => {
    for (const generation of [0, 1, 2, 1000, 2 ** 32 - 1]) {
      const input = payload({ generation });
      const token = codec.encode(input, salt());
      expect(token).toMatch(SHAPE);
      const result = decoded(token);
      expect(result).toMatchObject(input);
      expect(result.body).toBe(parts(token).body);
      expect(result.mac.toString('base64url')).toBe(parts(token).mac);
    }
  });

  it('round-trips the extreme UUIDs', () => {
    const input = payload({ userId: '00000000-0000-0000-0000-000000000000', sessionId: 'ffffffff-ffff-ffff-ffff-ffffffffffff' });
    expect(decoded(codec.encode(input, salt()))).toMatchObject(input);
  });

  it('is deterministic per (session, generation, salt)', () => {
    const input = payload();
    const sessionSalt = salt();
    expect(codec.encode(input, sessionSalt)).toBe(codec.encode({ ...input }, sessionSalt));
  });

  it('gives a different token for a different salt or generation, and a different mac for a different secret', () => {
    const input = payload({ generation: 5 });
    const sessionSalt = salt();
    const token = codec.encode(input, sessionSalt);
    const tokens = [
      token,
      codec.encode(input, salt()),
      codec.encode(input, `${sessionSalt}x`),
      codec.encode({ ...input, generation: 6 }, sessionSalt),
      codec.encode({ ...input, generation: 4 }, sessionSalt),
      codec.encode({ ...input, sessionId: randomUUID() }, sessionSalt),
    ];
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(codec.encode(input, salt())).not.toBe(token);
    const fromOther = otherCodec.encode(input, sessionSalt);
    expect(parts(fromOther).body).toBe(parts(token).body);
    expect(parts(fromOther).mac).not.toBe(parts(token).mac);
  });
});

describe('refresh token codec: verify', () => {
  const sessionSalt = salt();
  const token = codec.encode(payload({ generation: 3 }), sessionSalt);

  it('accepts the token under its own salt only', () => {
    expect(codec.verify(decoded(token), sessionSalt)).toBe(true);
    for (const wrong of [salt(), '', `${sessionSalt} `, sessionSalt.slice(1), sessionSalt.toUpperCase()]) {
      expect(codec.verify(decoded(token), wrong)).toBe(false);
    }
  });

  it('rejects every single-bit change of the body, which still decodes', () => {
    const bytes = Buffer.from(parts(token).body, 'base64url');
    expect(bytes).toHaveLength(36);
    for (let index = 0; index < bytes.length; index += 1) {
      for (const bit of [0x01, 0x80]) {
        const altered = Buffer.from(bytes);
        altered[index] = (altered[index] ?? 0) ^ bit;
        const forged = decoded(`rt1.${altered.toString('base64url')}.${parts(token).mac}`);
        expect(codec.verify(forged, sessionSalt)).toBe(false);
      }
    }
  });

  it('rejects every changed body character', () => {
    const { body, mac } = parts(token);
    for (let index = 0; index < body.length; index += 1) {
      const forged = codec.decode(`rt1.${bumpChar(body, index)}.${mac}`);
      expect(forged === null || !codec.verify(forged, sessionSalt)).toBe(true);
    }
  });

  it('rejects every single-bit change of the mac', () => {
    const { body, mac } = parts(token);
    const tag = Buffer.from(mac, 'base64url');
    expect(tag).toHaveLength(32);
    for (let index = 0; index < tag.length; index += 1) {
      const altered = Buffer.from(tag);
      altered[index] = (altered[index] ?? 0) ^ 0x01;
      const forged = decoded(`rt1.${body}.${altered.toString('base64url')}`);
      expect(codec.verify(forged, sessionSalt)).toBe(false);
    }
  });

  it('rejects the body of one session with the mac of another generation', () => {
    const input = payload({ generation: 1 });
    const next = codec.encode({ ...input, generation: 2 }, sessionSalt);
    const spliced = `rt1.${parts(codec.encode(input, sessionSalt)).body}.${parts(next).mac}`;
    expect(codec.verify(decoded(spliced), sessionSalt)).toBe(false);
  });

  it('rejects a token minted under another secret, same payload and salt', () => {
    const input = payload();
    const foreign = otherCodec.encode(input, sessionSalt);
    expect(codec.verify(decoded(foreign), sessionSalt)).toBe(false);
    expect(otherCodec.verify(decoded(foreign), sessionSalt)).toBe(true);
  });
});

describe('refresh token codec: decode rejects anything that is not a token', () => {
  const token = codec.encode(payload(), salt());
  const { body, mac } = parts(token);

  /** A second spelling of the mac: 43 characters carry 258 bits for 256, so the last character has 2 spare bits. */
  function nonCanonicalMac(): string {
    const last = mac.charAt(mac.length - 1);
    const value = BASE64URL.indexOf(last);
    const twin = BASE64URL.charAt(value ^ 0x01);
    const spelling = `${mac.slice(0, -1)}${twin}`;
    expect(spelling).not.toBe(mac);
    expect(Buffer.from(spelling, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    return spelling;
  }

  it('accepts the canonical token (control)', () => {
    expect(codec.decode(token)).not.toBeNull();
  });

  it.each([
    ['an empty string', () => ''],
    ['garbage', () => 'not-a-token'],
    ['a JWT', () => 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln'],
    ['the wrong version prefix', () => `rt2.${body}.${mac}`],
    ['an upper-case prefix', () => `RT1.${body}.${mac}`],
    ['no prefix', () => `${body}.${mac}`],
    ['a prefix without its dot', () => `rt1${body}.${mac}`],
    ['a missing mac', () => `rt1.${body}`],
    ['an empty mac', () => `rt1.${body}.`],
    ['an extra segment', () => `${token}.AAAA`],
    ['a body one character short', () => `rt1.${body.slice(1)}.${mac}`],
    ['a body one character long', () => `rt1.${body}A.${mac}`],
    ['a body four characters long (39 bytes)', () => `rt1.${body}AAAA.${mac}`],
    ['a mac one character short', () => `rt1.${body}.${mac.slice(1)}`],
    ['a mac one character long', () => `rt1.${body}.${mac}A`],
    ['a mac of 33 bytes', () => `rt1.${body}.${randomBytes(33).toString('base64url')}`],
    ['a non-canonical mac (same bytes, other last character)', () => `rt1.${body}.${nonCanonicalMac()}`],
    ['= padding on the mac', () => `${token}=`],
    ['= padding replacing the last mac character', () => `${token.slice(0, -1)}=`],
    ['standard base64 + in the body', () => `rt1.+${body.slice(1)}.${mac}`],
    ['standard base64 / in the mac', () => `rt1.${body}./${mac.slice(1)}`],
    ['a leading space', () => ` ${token}`],
    ['a trailing space', () => `${token} `],
    ['a trailing newline', () => `${token}\n`],
    ['a trailing CRLF', () => `${token}\r\n`],
    ['an inner space', () => `rt1.${body} .${mac.slice(1)}`],
    ['an inner tab', () => `rt1.${body.slice(0, 10)}\t${body.slice(11)}.${mac}`],
    ['a non-ASCII character', () => `rt1.${body.slice(0, -1)}é.${mac}`],
  ])('returns null for %s', (_name, make) => {
    expect(codec.decode(make())).toBeNull();
  });
});
