import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { headLinesList } from '../response-headers.js';
import type { AuthenticateAnswer } from './decide.js';

/** Where Node keeps the head `writeHead` rendered, unsent until the first write sends it with the body. */
type WithRenderedHead = ServerResponse & { _header?: unknown };

/** Whether this Node keeps a head it rendered there, as a string beginning with the status line. */
export function nodeKeepsRenderedHead(): boolean {
  const response: WithRenderedHead = new ServerResponse(new IncomingMessage(new Socket()));
  response.writeHead(200, ['Content-Length', '0']);
  const head = response._header;
  return typeof head === 'string' && head.startsWith('HTTP/1.1 200 OK\r\n') && head.includes('\r\nContent-Length: 0\r\n') && head.endsWith('\r\n\r\n');
}

/** Checked once: a Node that renders heads elsewhere gets every header through `writeHead`. */
const RENDERED_HEAD = nodeKeepsRenderedHead();

/**
 * Writes an answer whose head lines were rendered and checked once (decide.ts). Node's
 * `writeHead` checks and renders every header of every response anew: for `/authenticate`'s
 * twelve that cost ~2 µs a request, 13% of what a bare `node:http` answer costs here. So Node is
 * given only `Content-Length` and renders what it alone decides (the status line, `Date`, and
 * `Connection`/`Keep-Alive` from the request and the server's settings, which also decide
 * whether the connection closes after this answer); the answer's lines go in after its status
 * line, before the head is sent with the body in one write.
 */
export function writeAnswer(response: ServerResponse, answer: AuthenticateAnswer, renderedHead = RENDERED_HEAD): void {
  if (!renderedHead) {
    response.writeHead(answer.status, [...headLinesList(answer.head), 'Content-Length', answer.contentLength]).end(answer.body);
    return;
  }
  const node: WithRenderedHead = response.writeHead(answer.status, ['Content-Length', answer.contentLength]);
  const head = node._header as string;
  const afterStatusLine = head.indexOf('\r\n') + 2;
  node._header = head.slice(0, afterStatusLine) + answer.head + head.slice(afterStatusLine);
  response.end(answer.body);
}
