import type { SigningSetup } from '../load/jobs.js';

/** What a ceiling worker measures, for how long (`ms`), with what material. */
export type CeilingJob =
  | { kind: 'verify'; ms: number; keyFile: string; token: string }
  | (SigningSetup & { kind: 'sign'; ms: number; claims: { userId: string; sessionId: string; tokenVersion: number; roles: string[] } })
  | { kind: 'argon2'; ms: number };

export interface CeilingResult {
  perSecond: number;
  /** Operations in flight at once (argon2: the service's own default on one core). */
  concurrency: number;
}
