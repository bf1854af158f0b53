import { randomUUID } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import { requestIdFrom } from '../src/http/response-headers.js';

/**
 * The baselines, no logic behind either: `bare` answers 200 `ok` to everything (the issue's
 * baseline); `shaped` answers what a valid `/authenticate` answers — the same header names and
 * sizes, a fresh request id made as the service makes it, a JSON body of the same size — so the
 * table shows how much of the gap to `bare` is the response itself.
 * `bare-server.ts <port> [bare|shaped]`.
 */
const port = Number(process.argv[2]);
const shape = process.argv[3] ?? 'bare';

const ok = Buffer.from('ok');
const bare: RequestListener = (_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': ok.length });
  response.end(ok);
};

const userId = randomUUID();
const sessionId = randomUUID();
const exp = String(Math.floor(Date.now() / 1000) + 900);
const body = JSON.stringify({ sub: userId, sid: sessionId, jti: randomUUID(), roles: ['user'], iat: Number(exp) - 900, exp: Number(exp) });
const bodyLength = String(Buffer.byteLength(body));
const shaped: RequestListener = (_request, response) => {
  response.writeHead(200, [
    'X-Request-Id', requestIdFrom(undefined),
    'X-Instance-Id', 'shaped',
    'X-Content-Type-Options', 'nosniff',
    'X-Frame-Options', 'DENY',
    'Referrer-Policy', 'no-referrer',
    'Content-Type', 'application/json; charset=utf-8',
    'Cache-Control', 'no-store',
    'Content-Length', bodyLength,
    'X-User-Id', userId,
    'X-User-Roles', 'user',
    'X-Session-Id', sessionId,
    'X-Token-Expires', exp,
  ]);
  response.end(body);
};

const server = createServer(shape === 'shaped' ? shaped : bare);
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
