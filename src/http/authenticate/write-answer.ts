import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { answerHeaderList, type AuthenticateAnswer } from './authenticate.js';

/** Node's own state: the head `writeHead` rendered, unsent until the first write; output kept while there is no socket. */
type NodeResponse = ServerResponse & { _header?: unknown; outputData?: { data: unknown }[] };

/**
 * Node renders the status line, `Content-Length`, `Date` and `Connection`/`Keep-Alive` (from
 * the request and the server's settings, which also decide whether the connection closes after
 * this answer); the answer's lines go in after the status line, before the first write sends
 * the head and the body as one.
 */
function spliceHead(response: NodeResponse, answer: AuthenticateAnswer): void {
  response.writeHead(answer.status, ['Content-Length', answer.contentLength]);
  const head = response._header as string;
  const afterStatusLine = head.indexOf('\r\n') + 2;
  response._header = head.slice(0, afterStatusLine) + answer.head + head.slice(afterStatusLine);
  response.end(answer.body);
}

/**
 * Whether this Node sends the head `spliceHead` leaves: an answer spliced on a response with no
 * socket (whose output Node keeps) must come out whole, the line put in included.
 */
export function nodeSendsSplicedHead(): boolean {
  try {
    const response: NodeResponse = new ServerResponse(new IncomingMessage(new Socket()));
    spliceHead(response, { status: 200, head: 'X-Probe: 1\r\n', contentLength: '1', body: 'x' });
    const sent = response.outputData?.map(({ data }) => String(data)).join('') ?? '';
    return /^HTTP\/1\.1 200 OK\r\nX-Probe: 1\r\n(?:[^\r\n]+\r\n)*\r\nx$/.test(sent) && sent.includes('\r\nContent-Length: 1\r\n');
  } catch {
    return false;
  }
}

/** Checked once, at start: a Node that does not gets every header through `writeHead`. */
export const SPLICES_HEAD = nodeSendsSplicedHead();

/**
 * Writes an answer whose head lines were rendered and checked once (authenticate.ts). Node's
 * `writeHead` checks and renders every header of every response anew: for `/authenticate`'s
 * twelve that cost ~2 µs a request, where a bare `node:http` answer costs 13–20 µs here. So
 * Node is given only `Content-Length` (`spliceHead`).
 */
export function writeAnswer(response: ServerResponse, answer: AuthenticateAnswer, splicesHead = SPLICES_HEAD): void {
  if (splicesHead) spliceHead(response, answer);
  else response.writeHead(answer.status, answerHeaderList(answer)).end(answer.body);
}
