import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditStats } from '../audit/audit-log.js';
import { LIMITS } from '../security/rate-limits.js';
import { createHotHistogram } from './hot-histogram.js';

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const AUTHENTICATE_OUTCOMES = ['ok', 'missing', 'malformed', 'expired', 'invalid', 'no_session', 'stale_version', 'denied', 'unavailable'] as const;
const REFRESH_OUTCOMES = ['rotated', 'replayed', 'reused', 'invalid', 'unavailable'] as const;
const LOGIN_OUTCOMES = ['ok', 'invalid_credentials', 'unavailable'] as const;
const DEPENDENCIES = ['cache', 'database'] as const;
/** The methods a request's duration is labelled with: every other is `other`. */
const LABELLED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Entries held by each of an instance's caches (`revocation_answers` in `cached` mode only). */
export type CacheEntries = { access_tokens: number; session_salts: number; revocation_answers?: number };

export type AuthenticateOutcome = (typeof AUTHENTICATE_OUTCOMES)[number];
export type RefreshOutcome = (typeof REFRESH_OUTCOMES)[number];
export type LoginOutcome = (typeof LOGIN_OUTCOMES)[number];

/**
 * The service's Prometheus metrics, on a registry of its own (no global state). What every
 * request records — its duration, and `/authenticate`'s outcome — is kept in plain numbers
 * (label sets bound once, see hot-histogram.ts) and handed to prom-client when scraped.
 */
export function createMetrics(options: { queueDepth: () => number; auditStats?: () => AuditStats; cacheEntries?: () => CacheEntries }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = createHotHistogram({
    name: 'jwt_http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  // Every known series exists from the start at 0, so rate() sees a replica's first event too.
  const authenticateCounts = new Map<AuthenticateOutcome, number>(AUTHENTICATE_OUTCOMES.map((outcome) => [outcome, 0]));
  new Counter({
    name: 'jwt_authenticate_total',
    help: '/authenticate answers by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, count] of authenticateCounts) this.labels(outcome).inc(count);
    },
  });
  const refresh = new Counter({ name: 'jwt_refresh_total', help: 'Refresh outcomes', labelNames: ['outcome'] as const, registers: [registry] });
  const login = new Counter({ name: 'jwt_login_total', help: 'Login outcomes', labelNames: ['outcome'] as const, registers: [registry] });
  const rateLimited = new Counter({
    name: 'jwt_rate_limited_total',
    help: 'Requests refused with 429 by a brute-force limit',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const dependencyErrors = new Counter({
    name: 'jwt_dependency_errors_total',
    help: 'Failed calls to Redis (cache) or PostgreSQL (database)',
    labelNames: ['dependency'] as const,
    registers: [registry],
  });
  const passwordHashRejected = new Counter({
    name: 'jwt_password_hash_rejected_total',
    help: 'Requests answered 503 because the argon2 queue was full (login, register, password change)',
    registers: [registry],
  });
  new Gauge({
    name: 'jwt_password_hash_queue_depth',
    help: 'argon2 operations waiting for a slot, and places held for requests on their way to one',
    registers: [registry],
    collect() {
      this.set(options.queueDepth());
    },
  });

  // The audit trail's own counts, read at scrape time: lost events show on a dashboard, not only in a log line.
  new Counter({
    name: 'jwt_audit_events_total',
    help: 'Audit trail events by outcome: written, dropped (queue full while the database was slow or down), rejected (refused by the database)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      const stats = options.auditStats?.() ?? { written: 0, dropped: 0, rejected: 0 };
      this.reset();
      for (const outcome of ['written', 'dropped', 'rejected'] as const) this.labels(outcome).inc(stats[outcome]);
    },
  });
  new Gauge({
    name: 'jwt_audit_queue_depth',
    help: 'Audit events held in memory, waiting or being written',
    registers: [registry],
    collect() {
      this.set(options.auditStats?.().queued ?? 0);
    },
  });

  new Gauge({
    name: 'jwt_cache_entries',
    help: "Entries in this instance's caches of verified access tokens, session salts and (cached mode) revocation answers; each is capped, and drops expired entries from its oldest end as new ones come",
    labelNames: ['cache'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [cache, entries] of Object.entries(options.cacheEntries?.() ?? {})) if (entries !== undefined) this.labels(cache).set(entries);
    },
  });

  for (const outcome of REFRESH_OUTCOMES) refresh.labels(outcome).inc(0);
  for (const outcome of LOGIN_OUTCOMES) login.labels(outcome).inc(0);
  for (const dependency of DEPENDENCIES) dependencyErrors.labels(dependency).inc(0);
  for (const limit of LIMITS) rateLimited.labels(limit).inc(0);

  /**
   * Node parses some 34 methods (PROPFIND, MKCALENDAR, …), anyone may send each of them, and every
   * label value is a series kept for the life of the process: the API's own, else `other`.
   */
  const methodLabel = (method: string) => (LABELLED_METHODS.has(method) ? method : 'other');
  /**
   * Duration recorders by route, method and status (nested: no key string per request). A method
   * first seen is labelled then: every other method shares the recorders of `other`, so a request
   * pays no labelling.
   */
  const durations = new Map<string, Map<string, Map<number, (seconds: number) => void>>>();
  const durationOf = (route: string, method: string, status: number) => {
    let byMethod = durations.get(route);
    if (!byMethod) durations.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) {
      const label = methodLabel(method);
      byStatus = byMethod.get(label) ?? new Map<number, (seconds: number) => void>();
      byMethod.set(label, byStatus).set(method, byStatus);
    }
    let observe = byStatus.get(status);
    if (!observe) byStatus.set(status, (observe = requestDuration.series({ route, method: methodLabel(method), status: String(status) })));
    return observe;
  };

  return {
    registry,
    authenticate(outcome: AuthenticateOutcome) {
      authenticateCounts.set(outcome, (authenticateCounts.get(outcome) ?? 0) + 1);
    },
    refresh: (outcome: RefreshOutcome) => refresh.labels(outcome).inc(),
    login: (outcome: LoginOutcome) => login.labels(outcome).inc(),
    dependencyError: (dependency: (typeof DEPENDENCIES)[number]) => dependencyErrors.labels(dependency).inc(),
    rateLimited: (limit: string) => rateLimited.labels(limit).inc(),
    passwordHashRejected: () => passwordHashRejected.inc(),
    /** Records one request; `route` is the route pattern, never the raw path (bounded cardinality). */
    request(route: string, method: string, status: number, seconds: number) {
      durationOf(route, method, status)(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
