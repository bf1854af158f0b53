import { performance } from 'node:perf_hooks';
import type { HttpClient } from '../load/http.js';
import { createHistogram, type Latency } from '../load/histogram.js';

/** The rows of the report; the three `/authenticate` kinds expect different answers. */
export const ENDPOINTS = ['register', 'login', 'authenticate', 'authenticate (gateway)', 'authenticate (logged out)', 'refresh', 'logout'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface ErrorDetail {
  atS: number;
  endpoint: Endpoint;
  expected: number;
  /** The status received, or `null` for a timeout or connection error. */
  status: number | null;
  detail: string;
}

export interface EndpointSummary extends Latency {
  requests: number;
  statuses: Record<string, number>;
}

const KEPT_ERRORS = 20;

/**
 * Counts every request per endpoint (statuses, latency) and every error: an answer other
 * than the expected status, a timeout or a connection error.
 */
export function createRecorder(client: HttpClient, url: string, startedAt: number) {
  const rows = new Map(ENDPOINTS.map((endpoint) => [endpoint, { histogram: createHistogram(), requests: 0, statuses: new Map<string, number>() }]));
  const errors: ErrorDetail[] = [];
  let errorCount = 0;
  const fail = (error: Omit<ErrorDetail, 'atS'>) => {
    errorCount += 1;
    if (errors.length < KEPT_ERRORS) errors.push({ atS: Math.round((Date.now() - startedAt) / 100) / 10, ...error });
  };

  return {
    /** Sends one request; returns the body when the status is `expected`, `undefined` (recorded as an error) otherwise. */
    async call(endpoint: Endpoint, expected: number, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<string | undefined> {
      const row = rows.get(endpoint)!;
      const json = body === undefined ? undefined : JSON.stringify(body);
      const sent = performance.now();
      let status: number | null = null;
      try {
        const response = await client.send(url, method, path, json === undefined ? headers : { ...headers, 'content-type': 'application/json' }, json);
        status = response.status;
        row.histogram.record(performance.now() - sent);
        if (status === expected) return response.body;
        const what = status === 200 && endpoint === 'authenticate (logged out)' ? 'a logged-out token was accepted; ' : '';
        fail({ endpoint, expected, status, detail: `${what}${response.body.slice(0, 160)}` });
        return undefined;
      } catch (error) {
        fail({ endpoint, expected, status: null, detail: error instanceof Error ? error.message : String(error) });
        return undefined;
      } finally {
        row.requests += 1;
        const key = status === null ? 'network' : String(status);
        row.statuses.set(key, (row.statuses.get(key) ?? 0) + 1);
      }
    },
    /** Requests answered so far, all endpoints. */
    total: () => [...rows.values()].reduce((sum, row) => sum + row.requests, 0),
    errorCount: () => errorCount,
    summary() {
      const endpoints = Object.fromEntries(
        [...rows].map(([endpoint, row]) => [endpoint, { requests: row.requests, statuses: Object.fromEntries(row.statuses), ...row.histogram.summary() }]),
      ) as Record<Endpoint, EndpointSummary>;
      return { endpoints, errors: { count: errorCount, first: errors } };
    },
  };
}

export type Recorder = ReturnType<typeof createRecorder>;
