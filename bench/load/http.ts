import { Agent, request } from 'node:http';

/**
 * A keep-alive HTTP/1.1 client for the scenarios autocannon cannot drive (chained or paced
 * requests). `timeoutMs`: a request fails after that long without progress, and an idle
 * keep-alive socket is closed after that long (before the server's own idle timeout).
 */
export function createHttpClient(maxSockets: number, timeoutMs = 30_000) {
  const agent = new Agent({ keepAlive: true, maxSockets, timeout: timeoutMs });
  return {
    /** One request; resolves with the status, the body text and `Retry-After` (seconds), or rejects on a network error. */
    send(url: string, method: string, path: string, headers: Record<string, string>, body?: string) {
      return new Promise<{ status: number; body: string; retryAfter: number | undefined }>((resolve, reject) => {
        const req = request(`${url}${path}`, { method, headers, agent, timeout: timeoutMs }, (res) => {
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
