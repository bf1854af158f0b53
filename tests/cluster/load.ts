import { Agent, request } from 'node:http';

/** A bounded closed-loop load: `concurrency` loops, each sending one request after the other until `durationMs`. */
export interface LoadOptions {
  /** Base URL, e.g. nginx's `http://127.0.0.1:PORT`. */
  url: string;
  path: string;
  /** Default GET; a POST sends `body` (JSON) with each request. */
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  concurrency: number;
  durationMs: number;
  /** The status every response must have (default 200). */
  expectStatus?: number;
  /** Per request; a slower answer counts as a failure (default 5000). */
  timeoutMs?: number;
}

export interface LoadResult {
  total: number;
  /** One line per failed request: an unexpected status or a connection error. */
  failures: string[];
  /** Responses per `X-Instance-Id`. */
  byInstance: Map<string, number>;
}

interface OneRequest {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
}

function once(agent: Agent, url: URL, { method, headers, body, timeoutMs }: OneRequest): Promise<{ status: number; instance: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method, headers, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, instance: String(res.headers['x-instance-id'] ?? '?') }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

/** Runs the load over keep-alive connections (like a gateway) and reports every failure. Loopback only. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs, method = 'GET', expectStatus = 200, timeoutMs = 5000 } = options;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = body === undefined ? (options.headers ?? {}) : { 'content-type': 'application/json', ...options.headers };
  const oneRequest: OneRequest = { method, headers, body, timeoutMs };
  const target = new URL(options.path, options.url);
  if (!['127.0.0.1', 'localhost'].includes(target.hostname)) throw new Error(`load generator is loopback only, not ${target.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { total: 0, failures: [], byInstance: new Map() };
  const deadline = Date.now() + durationMs;
  const loop = async (): Promise<void> => {
    while (Date.now() < deadline) {
      result.total += 1;
      try {
        const { status, instance } = await once(agent, target, oneRequest);
        result.byInstance.set(instance, (result.byInstance.get(instance) ?? 0) + 1);
        if (status !== expectStatus) result.failures.push(`status ${status} from ${instance}`);
      } catch (error) {
        result.failures.push(error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim() : String(error));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    agent.destroy();
  }
  return result;
}
