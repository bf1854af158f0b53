import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { compactUuid, uuidFromHex } from '../util/uuid.js';

/** What a refresh token carries. The token is opaque to clients. */
export interface RefreshTokenPayload {
  userId: string;
  sessionId: string;
  generation: number;
}

/** A decoded (not yet authenticated) refresh token. */
export interface DecodedRefreshToken extends RefreshTokenPayload {
  body: string;
  mac: Buffer;
}

const PREFIX = 'rt1.';
const BODY_BYTES = 16 + 16 + 4;
const MAC_BYTES = 32;
const SHAPE = /^rt1\.([A-Za-z0-9_-]{48})\.([A-Za-z0-9_-]{43})$/;

const uuidToBytes = (uuid: string) => Buffer.from(compactUuid(uuid), 'hex');
const bytesToUuid = (bytes: Buffer) => uuidFromHex(bytes.toString('hex'));

/**
 * Refresh tokens: `rt1.<body>.<mac>`, body = user id, session id and generation,
 * mac = HMAC-SHA256(refresh secret, body ‖ per-session salt). Deterministic per
 * (session, generation), so a grace-window replay can be answered byte-identically.
 */
export function createRefreshTokenCodec(secret: KeyObject) {
  const mac = (body: string, salt: string) => createHmac('sha256', secret).update(PREFIX).update(body).update('.').update(salt).digest();

  return {
    /** Builds the token for a session generation. */
    encode(payload: RefreshTokenPayload, salt: string): string {
      const bytes = Buffer.alloc(BODY_BYTES);
      uuidToBytes(payload.userId).copy(bytes, 0);
      uuidToBytes(payload.sessionId).copy(bytes, 16);
      bytes.writeUInt32BE(payload.generation, 32);
      const body = bytes.toString('base64url');
      return `${PREFIX}${body}.${mac(body, salt).toString('base64url')}`;
    },

    /** Parses the token's shape; returns `null` for anything that is not one. Authenticity is checked by `verify`. */
    decode(token: string): DecodedRefreshToken | null {
      const match = SHAPE.exec(token);
      if (!match) return null;
      const body = match[1] as string;
      const bytes = Buffer.from(body, 'base64url');
      const tag = Buffer.from(match[2] as string, 'base64url');
      // Reject non-canonical base64url so one token has exactly one spelling.
      if (bytes.length !== BODY_BYTES || tag.length !== MAC_BYTES || bytes.toString('base64url') !== body || tag.toString('base64url') !== match[2]) return null;
      return {
        userId: bytesToUuid(bytes.subarray(0, 16)),
        sessionId: bytesToUuid(bytes.subarray(16, 32)),
        generation: bytes.readUInt32BE(32),
        body,
        mac: tag,
      };
    },

    /** Constant-time check of the token's MAC under the session's salt. */
    verify(decoded: DecodedRefreshToken, salt: string): boolean {
      return timingSafeEqual(mac(decoded.body, salt), decoded.mac);
    },
  };
}

export type RefreshTokenCodec = ReturnType<typeof createRefreshTokenCodec>;
