import { PassThrough } from 'node:stream';
import { expect, test } from 'vitest';
import { createClientErrorHandler } from '../../src/http/client-errors.js';

/** What the handler writes on a connection for `code` (Node's parser or timeout error). */
function answerTo(code: string): string {
  const socket = new PassThrough();
  const written: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => written.push(chunk));
  createClientErrorHandler('instance-1')(Object.assign(new Error(code), { code }), socket);
  return Buffer.concat(written).toString('latin1');
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
