import { createPrivateKey, createPublicKey, randomUUID, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { writeAnswer } from '../src/http/authenticate/write-answer.js';
import { baselineLines, renderHeadLines, requestIdFrom, requestIdLine } from '../src/http/response-headers.js';
import type { SigningSetup } from './load/jobs.js';
import { benchSigner } from './signer.js';

/**
 * The baselines, no logic behind any: `bare` answers 200 `ok` to everything (the issue's
 * baseline); `shaped` answers what a valid `/authenticate` answers — the same header names and
 * sizes, a fresh request id made as the service makes it, a JSON body of the same size — so the
 * table shows how much of the gap to `bare` is the response itself.
 * The two bounds put one HTTP exchange around a ceiling's work and nothing else: `verify` checks
 * the bearer token's signature (d0's `crypto.verify`), `sign` answers a POST with an access token
 * signed by the service's signer (f0) and echoes the body's `refresh_token`, so `/refresh` chains
 * run against it unchanged. What they reach is the most d and f can reach on this machine.
 * `bare-server.ts <port> [bare|shaped|verify|sign] [signing setup JSON]`.
 */
const port = Number(process.argv[2]);
const shape = process.argv[3] ?? 'bare';
const signing = process.argv[4] ? (JSON.parse(process.argv[4]) as SigningSetup) : undefined;

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
/** The headers after the request id, rendered once, as the service renders its answers' (authenticate.ts). */
const shapedLines = baselineLines('shaped') + renderHeadLines([
  'Content-Type', 'application/json; charset=utf-8',
  'Cache-Control', 'no-store',
  'X-User-Id', userId,
  'X-User-Roles', 'user',
  'X-Session-Id', sessionId,
  'X-Token-Expires', exp,
]);
/** Written as the service writes `/authenticate`'s answers. */
const shaped: RequestListener = (_request, response) =>
  writeAnswer(response, { status: 200, head: requestIdLine(requestIdFrom(undefined)) + shapedLines, contentLength: bodyLength, body });

function verifyBound(setup: SigningSetup): RequestListener {
  const key = createPublicKey(createPrivateKey(readFileSync(setup.keyFile, 'utf8')));
  return (request, response) => {
    const token = request.headers.authorization?.slice('Bearer '.length) ?? '';
    const lastDot = token.lastIndexOf('.');
    const valid = lastDot > 0 && verify(null, Buffer.from(token.slice(0, lastDot)), key, Buffer.from(token.slice(lastDot + 1), 'base64url'));
    response.writeHead(valid ? 200 : 401, { 'Content-Type': 'text/plain', 'Content-Length': ok.length });
    response.end(ok);
  };
}

async function signBound(setup: SigningSetup): Promise<RequestListener> {
  const tokens = await benchSigner(setup);
  const claims = { userId, sessionId, tokenVersion: 0, roles: ['user'] };
  return (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const { refresh_token } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { refresh_token?: string };
      const payload = JSON.stringify({ access_token: tokens.sign(claims).token, refresh_token });
      response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
      response.end(payload);
    });
  };
}

async function listener(): Promise<RequestListener> {
  if (shape === 'shaped') return shaped;
  if (shape === 'bare') return bare;
  if (!signing) throw new Error(`the ${shape} bound needs the signing setup`);
  return shape === 'verify' ? verifyBound(signing) : signBound(signing);
}

const server = createServer(await listener());
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
