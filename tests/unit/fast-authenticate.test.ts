import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Authenticate, AuthenticateAnswer } from '../../src/http/authenticate/authenticate.js';
import { withFastAuthenticate } from '../../src/http/authenticate/node-listener.js';

/** The fast /authenticate listener on a real server, with `answer` standing in for the decision. */
async function serve(answer: () => Promise<AuthenticateAnswer>) {
  const logged: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(line) });
  const fallback = (_request: unknown, response: import('node:http').ServerResponse) => response.writeHead(404).end();
  const server = createServer(withFastAuthenticate(answer as Authenticate, fallback, logger, 'instance-7'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, logged };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

const ok: AuthenticateAnswer = { status: 200, head: '', contentLength: '2', body: 'ok' };

describe('the fast /authenticate listener when answering fails', () => {
  it.each([
    ['the decision rejects', () => Promise.reject(new Error('a bug'))],
    ['the answer cannot be written', () => Promise.resolve({ ...ok, status: 1000 as 200 })],
  ])('%s: 503 for that request (fail closed), logged, and the process serves on', async (_name, failing) => {
    let calls = 0;
    const { base, logged } = await serve(() => (calls++ === 0 ? failing() : Promise.resolve(ok)));
    const failed = await fetch(`${base}/authenticate`, { headers: { 'x-request-id': 'req-42' } });
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('1');
    // The headers of every response.
    expect(failed.headers.get('x-request-id')).toBe('req-42');
    expect(failed.headers.get('x-instance-id')).toBe('instance-7');
    expect(failed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(failed.headers.get('cache-control')).toBe('no-store');
    expect(await failed.json()).toMatchObject({ error: 'unavailable' });
    expect(logged.join('')).toContain('could not be written');
    const next = await fetch(`${base}/authenticate`);
    expect(next.status).toBe(200);
    expect(await next.text()).toBe('ok');
  });

  it('names the request in the 503 and in the error logged by the same id, one made up when the client sent none', async () => {
    const { base, logged } = await serve(() => Promise.reject(new Error('a bug')));
    const failed = await fetch(`${base}/authenticate`);
    expect(failed.status).toBe(503);
    const requestId = failed.headers.get('x-request-id');
    expect(requestId).toMatch(/^[\w.:-]{8,}$/);
    const errors = logged.map((line) => JSON.parse(line) as { reqId?: string; msg?: string });
    expect(errors).toContainEqual(expect.objectContaining({ reqId: requestId, msg: 'authenticate: the answer could not be written' }));
  });
});

describe('the paths the fast /authenticate listener serves', () => {
  it('serves /authenticate and every path below it (Envoy ext_authz appends the original path); the rest goes to the app', async () => {
    const { base } = await serve(() => Promise.resolve(ok));
    const served = ['/authenticate', '/authenticate?x=1', '/authenticate/', '/authenticate/?x=1', '/authenticate/api/orders', '/authenticate/api/orders?page=2', '/authenticate//a'];
    const passed = ['/authenticated', '/authenticate-x', '/authenticat', '/', '/login', '/x/authenticate'];
    const status = async (path: string) => [path, (await fetch(`${base}${path}`)).status];
    expect(await Promise.all(served.map(status))).toEqual(served.map((path) => [path, 200]));
    expect(await Promise.all(passed.map(status))).toEqual(passed.map((path) => [path, 404]));
  });
});
