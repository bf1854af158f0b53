import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { TOKEN_REQUIRED } from '../../src/errors.js';
import { createClientErrorHandler } from '../../src/http/client-errors.js';

/**
 * What the handler writes on a connection for `code` (Node's parser or timeout error), with what
 * the parser had been given (`rawPacket`) and where in it the error came (`bytesParsed`).
 */
function answerTo(code: string, packet?: { raw: string; at: number }): string {
  const socket = new PassThrough();
  const written: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => written.push(chunk));
  const parsed = packet && { rawPacket: Buffer.from(packet.raw, 'latin1'), bytesParsed: packet.at };
  createClientErrorHandler('instance-1')(Object.assign(new Error(code), { code }, parsed), socket);
  return Buffer.concat(written).toString('latin1');
}

/** The answer to `refused`, a request Node's parser stopped at, read in one packet after `before` and followed by `after`. */
function refusal(refused: string, before = '', after = '') {
  const [head = '', body = ''] = answerTo('HPE_INVALID_METHOD', { raw: before + refused + after, at: before.length + 1 }).split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), challenge: /\r\nWWW-Authenticate: ([^\r]*)/.exec(head)?.[1], body: JSON.parse(body) as Record<string, string> };
}

test('a request that timed out gets the JSON 408 with the headers of every answer, and the connection closed', () => {
  const answer = answerTo('ERR_HTTP_REQUEST_TIMEOUT');
  const [head, body] = answer.split('\r\n\r\n');
  expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  expect(head).toMatch(/\r\nX-Request-Id: [0-9a-f]{32}\r\n/);
  expect(head).toContain('\r\nX-Instance-Id: instance-1\r\n');
  expect(head).toContain('\r\nX-Content-Type-Options: nosniff\r\n');
  expect(head).toContain('\r\nCache-Control: no-store\r\n');
  expect(head).toContain('\r\nContent-Type: application/json; charset=utf-8\r\n');
  expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body ?? '')}\r\n`);
  expect(head).toContain('\r\nConnection: close');
  expect(JSON.parse(body ?? '')).toEqual({ error: 'request_timeout', error_description: 'the request did not arrive in time' });
});

test('a request Node cannot parse gets the JSON 400 with the same headers', () => {
  const [head, body] = answerTo('HPE_INVALID_METHOD').split('\r\n\r\n');
  expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(head).toContain('\r\nX-Instance-Id: instance-1\r\n');
  expect(JSON.parse(body ?? '')).toEqual({ error: 'invalid_request', error_description: 'the request is malformed' });
});

describe('a refused request at /authenticate: 401, with error="invalid_token" only when its own head carries a bearer token', () => {
  const withToken = 'FOO /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n';
  const checked = { error: 'invalid_token', error_description: 'the request is malformed, so its token was not checked' };
  const required = { error: 'invalid_token', error_description: TOKEN_REQUIRED };

  test('a bearer token, in any case and spacing the service reads', () => {
    expect(refusal(withToken)).toEqual({ status: 401, challenge: 'Bearer error="invalid_token"', body: checked });
    expect(refusal('FOO /authenticate/x HTTP/1.1\r\nauthorization :  BEARER  t\r\n\r\n')).toMatchObject({ challenge: 'Bearer error="invalid_token"' });
  });

  test('no token, another scheme or an empty bearer: the bare challenge', () => {
    for (const authorization of ['', 'Authorization: Basic YTpi\r\n', 'Authorization: Bearer \r\n', 'Authorization: Bearer\r\n', 'X-Authorization: Bearer t\r\n']) {
      expect(refusal(`FOO /authenticate HTTP/1.1\r\nHost: a\r\n${authorization}\r\n`), authorization).toEqual({ status: 401, challenge: 'Bearer', body: required });
    }
  });

  test('pipelined in one read, a request ahead of it or after it is not the refused one', () => {
    const ahead = 'GET /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n\r\n';
    expect(refusal('FOO /login HTTP/1.1\r\nHost: a\r\n\r\n', ahead)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(refusal('FOO /authenticate HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /ping HTTP/1.1\r\nHost: a\r\n\r\n', ahead)).toEqual({ status: 401, challenge: 'Bearer', body: required });
    expect(refusal(withToken, 'GET /ping HTTP/1.1\r\nHost: a\r\n\r\n')).toEqual({ status: 401, challenge: 'Bearer error="invalid_token"', body: checked });
  });
});
