import type { Latency } from './histogram.js';

/** The claims the bench signs cold tokens with: those of a real, live session. */
export interface SessionClaims {
  userId: string;
  sessionId: string;
  tokenVersion: number;
  roles: string[];
}

/** Signing material for tokens the load worker makes itself (same key ring as the service). */
export interface SigningSetup {
  keyFile: string;
  kid: string;
  issuer: string;
  audience: string;
}

/** What the load worker is asked to do; every job is bounded by `ms`. */
export type LoadJob =
  /**
   * GET load, closed-loop, or paced open-loop at `rate` req/s: by the node:http pacer
   * (`paced.ts`, a few thousand req/s at most), or by wrk with `pacer: 'wrk'` (tens of
   * thousands). With `bearerTokens`, one per request, round-robin.
   */
  | { kind: 'http'; url: string; path: string; connections: number; ms: number; bearerTokens?: string[]; rate?: number; pacer?: 'wrk' }
  /** `/authenticate` where every request carries a token signed just before the run and never sent before. */
  | { kind: 'cold'; url: string; connections: number; ms: number; count: number; signing: SigningSetup; sessions: SessionClaims[] }
  /** `/refresh` chains: each response's refresh token is used for a later request. */
  | { kind: 'refresh'; url: string; connections: number; ms: number; refreshTokens: string[] }
  /**
   * `concurrency` clients log in in a loop (honouring `Retry-After`), while a paced `/authenticate`
   * load runs on `auth.url` if `auth` is given (the same server, or another).
   */
  | {
      kind: 'storm';
      url: string;
      ms: number;
      concurrency: number;
      accounts: { email: string; password: string }[];
      auth?: { url: string; connections: number; rate: number; bearerTokens: string[] };
    }
  /** Revoke on `revoker`, then poll every watcher until it answers 401. */
  | { kind: 'propagation'; revoker: string; watchers: string[]; timeoutMs: number; items: RevocationItem[] };

export interface RevocationItem {
  kind: 'logout' | 'logout-all' | 'revoke';
  accessToken: string;
}

/** One measured load: counts by outcome, elapsed seconds, latency in ms. */
export interface LoadSummary {
  requests: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
  latency: Latency;
  /** Paced by wrk: requests sent over 1 ms after they fell due, every connection busy till then; that wait is not in `latency`. */
  lateSends?: number;
  /** Paced by wrk: the p99 with the late sends counted as slower than every answer; absent when they were 1% or more. */
  p99CountingLate?: number;
}

export interface ColdSummary extends LoadSummary {
  signSeconds: number;
}

export interface StormSummary {
  logins: LoadSummary;
  /** The paced `/authenticate` load, if the job had one. */
  auth?: LoadSummary;
}

export interface PropagationSummary {
  /** Per revocation: ms from the revoking response until every watcher rejected the token. */
  latenciesMs: number[];
  /** Revocations some watcher still accepted after `timeoutMs`. */
  timedOut: number;
  /** Revocations some watcher still accepted on its first check, sent once the revoking response had arrived. */
  acceptedAfterResponse: number;
  /** Items skipped because the token was not accepted everywhere before the revocation. */
  notLive: number;
}

export type LoadResult = LoadSummary | ColdSummary | StormSummary | PropagationSummary;
