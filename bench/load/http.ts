import { Agent, request } from 'node:http';

/** A keep-alive HTTP/1.1 client for the scenarios autocannon cannot drive (chained or paced requests). */
export function createHttpClient(maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  return {
    /** One request; resolves with the status, the body text and `Retry-After` (seconds), or rejects on a network error. */
    send(url: string, method: string, path: string, headers: Record<string, string>, body?: string) {
      return new Promise<{ status: number; body: string; retryAfter: number | undefined }>((resolve, reject) => {
        const req = request(`${url}${path}`, { method, headers, agent, timeout: 30_000 }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            const retry = Number(res.headers['retry-after']);
            resolve({ status: res.statusCode ?? 0, body: text, retryAfter: Number.isFinite(retry) ? retry : undefined });
          });
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

export type HttpClient = ReturnType<typeof createHttpClient>;
