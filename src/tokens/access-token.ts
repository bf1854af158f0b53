import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { KeyRing } from './key-ring.js';

/** The claims every access token carries, as the service uses them. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
  jti: string;
  tokenVersion: number;
  roles: string[];
  issuedAt: number;
  /** Expiry in seconds since the epoch (the JWT `exp`). */
  expiresAt: number;
}

export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: 'malformed' | 'expired' | 'invalid' };

export interface AccessTokenOptions {
  keyRing: KeyRing;
  issuer: string;
  audience: string;
  lifetimeMs: number;
  clockToleranceMs: number;
}

/** Tokens longer than this are rejected before any parsing (DESIGN: 4 KiB). */
export const MAX_TOKEN_LENGTH = 4096;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REQUIRED_CLAIMS = ['sub', 'sid', 'jti', 'tv', 'iat', 'exp'];
const FOREVER_SECONDS = 100 * 365 * 24 * 3600;

function toClaims(payload: JWTPayload): AccessClaims | null {
  const { sub, sid, jti, tv, roles, iat, exp } = payload as JWTPayload & { sid?: unknown; tv?: unknown; roles?: unknown };
  if (typeof sub !== 'string' || !UUID.test(sub) || typeof sid !== 'string' || !UUID.test(sid)) return null;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 64) return null;
  if (typeof tv !== 'number' || !Number.isSafeInteger(tv) || tv < 0) return null;
  if (!Array.isArray(roles) || !roles.every((role): role is string => typeof role === 'string')) return null;
  if (typeof iat !== 'number' || typeof exp !== 'number') return null;
  return { userId: sub, sessionId: sid, jti, tokenVersion: tv, roles, issuedAt: iat, expiresAt: exp };
}

/** Signs and verifies access tokens (RFC 9068 `at+jwt`) with the configured key ring. */
export function createAccessTokens({ keyRing, issuer, audience, lifetimeMs, clockToleranceMs }: AccessTokenOptions) {
  const { algorithm, signer, byKid } = keyRing;
  const signKey = signer.signKey;
  if (!signKey) throw new Error('key ring has no signing key');
  const lifetimeSeconds = Math.max(1, Math.round(lifetimeMs / 1000));
  const toleranceSeconds = Math.round(clockToleranceMs / 1000);

  // Keys are chosen only by exact kid from the ring; jku/x5u/jwk headers are never consulted.
  const getKey = (header: JWTHeaderParameters) => {
    const key = header.kid === undefined ? undefined : byKid.get(header.kid);
    if (!key) throw new Error('unknown kid');
    return key.verifyKey;
  };

  return {
    lifetimeSeconds,

    /** Signs a fresh access token; returns it with its claims. */
    async sign(input: { userId: string; sessionId: string; tokenVersion: number; roles: string[] }) {
      const issuedAt = Math.floor(Date.now() / 1000);
      const claims: AccessClaims = {
        ...input,
        jti: randomUUID(),
        issuedAt,
        expiresAt: issuedAt + lifetimeSeconds,
      };
      const token = await new SignJWT({ sid: claims.sessionId, tv: claims.tokenVersion, roles: claims.roles })
        .setProtectedHeader({ alg: algorithm, typ: 'at+jwt', kid: signer.kid })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(claims.userId)
        .setJti(claims.jti)
        .setIssuedAt(issuedAt)
        .setExpirationTime(claims.expiresAt)
        .sign(signKey);
      return { token, claims };
    },

    /**
     * Verifies signature, algorithm, `typ`, `iss`, `aud`, required claims and lifetimes.
     * `allowExpired` keeps every check but expiry (logout with an expired token).
     */
    async verify(token: string, options?: { allowExpired?: boolean }): Promise<VerifyResult> {
      if (token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) return { ok: false, reason: 'malformed' };
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms: [algorithm],
          issuer,
          audience,
          typ: 'at+jwt',
          requiredClaims: REQUIRED_CLAIMS,
          clockTolerance: options?.allowExpired ? FOREVER_SECONDS : toleranceSeconds,
        }));
      } catch (error) {
        const expired = (error as { code?: string }).code === 'ERR_JWT_EXPIRED';
        return { ok: false, reason: expired ? 'expired' : 'invalid' };
      }
      const claims = toClaims(payload);
      const latest = Date.now() / 1000 + toleranceSeconds;
      // `allowExpired` widens jose's clockTolerance, which also governs `nbf`: check the future side here.
      if (!claims || claims.issuedAt > latest || (payload.nbf !== undefined && payload.nbf > latest)) return { ok: false, reason: 'invalid' };
      return { ok: true, claims };
    },
  };
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;
