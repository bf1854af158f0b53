import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticateAnswer } from '../../src/http/authenticate/authenticate.js';
import { nodeSendsSplicedHead, writeAnswer } from '../../src/http/authenticate/write-answer.js';
import { headLinesList, renderHeadLines } from '../../src/http/response-headers.js';
import { rawSocket } from '../helpers/raw-socket.js';

const body = JSON.stringify({ sub: 'a-user', roles: ['user', 'auditor'] });
const answer: AuthenticateAnswer = {
  status: 200,
  head: renderHeadLines(['X-Request-Id', 'r-1', 'Content-Type', 'application/json; charset=utf-8', 'X-User-Roles', 'user,auditor', 'WWW-Authenticate', 'Bearer error="invalid_token"']),
  contentLength: String(Buffer.byteLength(body)),
  body,
};

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A server answering every request with `answer`, its head spliced in as the service does (`splicesHead`) or through `writeHead`. */
async function serve(splicesHead: boolean, options: { maxRequestsPerSocket?: number } = {}) {
  const server = createServer((request, response) => writeAnswer(response, { ...answer, body: request.method === 'HEAD' ? '' : body }, splicesHead));
  if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Each answer in `text` to requests of `methods`: its head's lines (but `Date`, which changes) sorted, and its body. */
function answersIn(text: string, methods: readonly string[]): { lines: string[]; body: string }[] {
  const answers: { lines: string[]; body: string }[] = [];
  let rest = text;
  for (const method of methods) {
    const end = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const length = Number(lines.find((line) => line.startsWith('Content-Length: '))?.slice(16));
    const headers = lines.filter((line) => !line.startsWith('Date: ')).sort();
    expect(lines.filter((line) => line.startsWith('Date: '))).toHaveLength(1);
    const hasBody = method !== 'HEAD';
    answers.push({ lines: [statusLine as string, ...headers], body: rest.slice(end + 4, end + 4 + (hasBody ? length : 0)) });
    rest = rest.slice(end + 4 + (hasBody ? length : 0));
  }
  expect(rest).toBe('');
  return answers;
}

describe("writing /authenticate's answer with its head rendered once", () => {
  it('this Node sends the head with the lines put in (so the suites test the path the service takes)', () => {
    expect(nodeSendsSplicedHead()).toBe(true);
  });

  it("writes the same answers as Node's writeHead, keep-alive and close alike: pipelined, HTTP/1.0, Connection: close, HEAD, the last request a socket may carry", async () => {
    const exchanges: [string, string[]][] = [
      ['GET /authenticate HTTP/1.1\r\nHost: x\r\n\r\nGET /authenticate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', ['GET', 'GET']],
      ['GET /authenticate HTTP/1.0\r\n\r\n', ['GET']],
      ['GET /authenticate HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /authenticate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', ['GET', 'GET']],
      ['HEAD /authenticate HTTP/1.1\r\nHost: x\r\n\r\nGET /authenticate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', ['HEAD', 'GET']],
    ];
    for (const [exchange, methods] of exchanges) {
      const [spliced = [], written] = await Promise.all([true, false].map(async (splicesHead) => answersIn((await rawSocket(await serve(splicesHead), exchange)).text, methods)));
      expect(spliced).toEqual(written);
      expect(spliced).toHaveLength(methods.length);
      spliced.forEach(({ lines, body: sent }, i) => {
        expect(lines).toEqual(expect.arrayContaining(['X-Request-Id: r-1', 'X-User-Roles: user,auditor', `Content-Length: ${Buffer.byteLength(body)}`]));
        expect(sent).toBe(methods[i] === 'HEAD' ? '' : body);
      });
    }
    const pipelined = answersIn((await rawSocket(await serve(true), exchanges[0]?.[0] as string)).text, ['GET', 'GET']);
    expect(pipelined.map(({ lines }) => lines.find((line) => line.startsWith('Connection: ')))).toEqual(['Connection: keep-alive', 'Connection: close']);
    // The server's limit of requests per connection is Node's to apply: it still closes the connection.
    const limited = await fetch(await serve(true, { maxRequestsPerSocket: 1 }));
    expect(limited.headers.get('connection')).toBe('close');
    expect(limited.headers.get('x-user-roles')).toBe('user,auditor');
    expect(await limited.text()).toBe(body);
  });
});

describe('head lines', () => {
  it.each([
    ['a line break in a value', ['X-User-Roles', 'user\r\nSet-Cookie: a=b']],
    ['a bare LF in a value', ['X-User-Roles', 'user\nX: y']],
    ['a name that is not a token', ['X User', 'a']],
    ['a second Content-Length', ['content-length', '5']],
    ['a Connection Node would not honour', ['Connection', 'close']],
  ])('are refused for %s (no header can be slipped in, none that Node writes itself)', (_name, list) => {
    expect(() => renderHeadLines(list)).toThrow(TypeError);
  });

  it('read back as the list they were rendered from', () => {
    const list = ['X-A', 'a: b', 'WWW-Authenticate', 'Bearer error="invalid_token"', 'X-Empty', ''];
    expect(headLinesList(renderHeadLines(list))).toEqual(list);
  });
});
