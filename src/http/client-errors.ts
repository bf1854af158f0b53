import type { EventEmitter } from 'node:events';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { isAuthenticatePath } from './authenticate/node-listener.js';
import { bearerToken } from './bearer.js';
import { BEARER_CHALLENGE, errorStatus, type ErrorCode, INVALID_TOKEN_CHALLENGE, TOKEN_REQUIRED } from '../errors.js';
import { baseHeaders, renderHeadLines, requestIdFrom } from './response-headers.js';

/** The contract's JSON error with the baseline headers, for answers written outside Hono. */
function errorParts(code: ErrorCode, description: string, instanceId: string) {
  const body = JSON.stringify({ error: code, error_description: description });
  const headers = { ...baseHeaders(requestIdFrom(undefined), instanceId), 'Cache-Control': 'no-store', 'Content-Type': 'application/json; charset=utf-8' };
  return { status: errorStatus[code], headers, body };
}

/** A whole HTTP/1.1 answer that closes the connection, written to the socket as it is (no Node to write its own headers). */
function closingAnswer(status: number, headers: Record<string, string>, body = ''): string {
  const lines = renderHeadLines(Object.entries(headers).flat());
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** How long a connection answered outside Hono stays open for the client to read the answer. */
const LINGER_MS = 2_000;

/** Connections `answerAndClose` has answered: what they still send is dropped, not answered again. */
const answered = new WeakSet<Duplex>();

/**
 * Writes `answer` and closes the connection for good, for a request line that is never parsed
 * further (an errored parser keeps refusing, a CONNECT's socket has none). Ending only our side
 * would leave the socket open for as long as the client keeps its own (`node:http` allows
 * half-open connections), a file descriptor held by each: it is destroyed once the client closes,
 * or after `LINGER_MS`. Until then whatever the client still sends is read and dropped (closing
 * with it unread would reset the connection, which can lose the answer).
 */
function answerAndClose(socket: Duplex, answer: string): void {
  answered.add(socket);
  // A CONNECT's socket has lost Node's own error listener: a reset must not end the process.
  socket.on('error', () => socket.destroy());
  socket.once('end', () => socket.destroy());
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.resume();
  socket.end(answer);
}

/** Node's parser errors (`HPE_*`) and timeouts, mapped like Node's own defaults but with the contract's body. */
function classify(error: NodeJS.ErrnoException): [ErrorCode, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return ['headers_too_large', 'the request line and headers are too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return ['payload_too_large', 'the chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return ['request_timeout', 'the request did not arrive in time'];
    default:
      return ['invalid_request', 'the request is malformed'];
  }
}

/** What a refusal looks at: the request's target, and whether it carries a bearer token. */
interface Refused {
  target: string | undefined;
  tokenSent: boolean;
}

/** A request whose head Node has parsed. */
type ParsedHead = Pick<IncomingMessage, 'url' | 'headers' | 'complete'>;

/** A refused request whose head Node parsed (a CONNECT, or one whose body was refused). */
const parsedRequest = (request: ParsedHead): Refused => ({ target: request.url, tokenSent: bearerToken(request.headers.authorization) !== null });

/** An `Authorization` line with a bearer token, as `bearerToken` reads the header. */
const BEARER_LINE = /\nauthorization[ \t]*:[ \t]*bearer [ \t]*[^\s]/i;

/**
 * A refused request whose head Node's parser could not read, as far as it got: the part of what
 * the parser had been given (`rawPacket`) from the end of the last head before the error (at
 * `bytesParsed`; a request pipelined ahead of it in the same read is not this one) to the end of
 * its own.
 */
function packetRequest(error: NodeJS.ErrnoException): Refused {
  const { rawPacket, bytesParsed } = error as { rawPacket?: Buffer; bytesParsed?: number };
  if (!rawPacket) return { target: undefined, tokenSent: false };
  const text = rawPacket.toString('latin1');
  const at = typeof bytesParsed === 'number' ? Math.min(bytesParsed, text.length) : 0;
  const previousEnd = at >= 4 ? text.lastIndexOf('\r\n\r\n', at - 4) : -1;
  const start = previousEnd === -1 ? 0 : previousEnd + 4;
  const end = text.indexOf('\r\n\r\n', start);
  const head = text.slice(start, end === -1 ? text.length : end);
  // The request line: `METHOD target HTTP/x`.
  return { target: head.split('\r\n', 1)[0]?.split(' ')[1], tokenSent: BEARER_LINE.test(head) };
}

/**
 * The answer to a request line the app never sees (a method Node cannot parse, or CONNECT): 400
 * `invalid_request`, except at `/authenticate`, which answers only 200, 401 or 503 whatever the
 * method (a gateway turns every other status into a 500): there it is a 401 whose challenge says,
 * as every other 401 there does, whether a bearer token was sent; that token was not checked.
 */
function refusedRequestLine({ target, tokenSent }: Refused, description: string, instanceId: string): string {
  if (!isAuthenticatePath(target)) {
    const { status, headers, body } = errorParts('invalid_request', description, instanceId);
    return closingAnswer(status, headers, body);
  }
  const [text, challenge] = tokenSent ? [`${description}, so its token was not checked`, INVALID_TOKEN_CHALLENGE] : [TOKEN_REQUIRED, BEARER_CHALLENGE];
  const { status, headers, body } = errorParts('invalid_token', text, instanceId);
  return closingAnswer(status, { ...headers, 'WWW-Authenticate': challenge }, body);
}

/**
 * `connect` listener: Node hands a CONNECT request (a proxy's method) to this event instead of
 * the app, and without a listener closes the connection with no answer at all. It gets the
 * answer of any other method the service does not serve.
 */
export function createConnectHandler(instanceId: string) {
  return (request: IncomingMessage, socket: Duplex) =>
    answerAndClose(socket, refusedRequestLine(parsedRequest(request), 'CONNECT is not supported', instanceId));
}

/** The longest a refusal waits for the answer to a whole request ahead of it on its connection. */
const IN_FLIGHT_WAIT_MS = 30_000;

/** Connections whose refusal waits for that answer: what they still send is not looked at. */
const waiting = new WeakSet<Duplex>();

/** The response on a connection (Node's `socket._httpMessage`), if one is under way. */
type InFlight = EventEmitter & { headersSent?: boolean; req?: ParsedHead };

/**
 * Writes the refusal of `error`, computed at once: nothing of the request is kept while it waits.
 * `parsed`: the request whose body was refused, its head read by Node (else the head is looked for
 * in the packet).
 */
function refusal(error: NodeJS.ErrnoException, instanceId: string, parsed?: ParsedHead): (socket: Duplex) => void {
  const [code, description] = classify(error);
  if (code === 'invalid_request') {
    const answer = refusedRequestLine(parsed ? parsedRequest(parsed) : packetRequest(error), description, instanceId);
    return (socket) => answerAndClose(socket, answer);
  }
  const { status, headers, body } = errorParts(code, description, instanceId);
  const answer = closingAnswer(status, headers, body);
  if (code === 'request_timeout') {
    // The parser has not failed, so the connection goes at once, as Node's own handler does: bytes
    // read on could complete a request (or the body of one in the app) that would then be carried
    // out after the client was told 408.
    return (socket) => {
      socket.end(answer);
      socket.destroy();
    };
  }
  return (socket) => answerAndClose(socket, answer);
}

/** The response under way on `socket` (Node's `socket._httpMessage`), if any. */
const responseOn = (socket: Duplex): InFlight | null | undefined => (socket as Duplex & { _httpMessage?: InFlight | null })._httpMessage;

/** The response on `socket` of a whole request, if one is under way. */
const inFlightOn = (socket: Duplex): InFlight | undefined => {
  const response = responseOn(socket);
  return response?.req?.complete ? response : undefined;
};

/**
 * Refuses once the answers to the whole requests ahead on the connection (pipelined) have gone:
 * the app carries those requests out, so their answers must not be lost, and answers go in order
 * (when one finishes, Node puts the next one queued on the socket: that one is waited for too).
 * Nothing more is read meanwhile (a failed parser would refuse each chunk again, and no later
 * request may complete); past `IN_FLIGHT_WAIT_MS` without those answers the connection goes.
 */
function refuseAfter(inFlight: InFlight, socket: Duplex, refuse: (socket: Duplex) => void): void {
  waiting.add(socket);
  socket.pause();
  const timer = setTimeout(() => socket.destroy(), IN_FLIGHT_WAIT_MS).unref();
  const stopWaiting = () => clearTimeout(timer);
  socket.once('close', stopWaiting);
  const after = (response: InFlight) =>
    response.once('finish', () => {
      const next = socket.writable ? inFlightOn(socket) : undefined;
      if (next && next !== response) return after(next);
      stopWaiting();
      socket.off('close', stopWaiting);
      if (socket.writable) refuse(socket);
      else socket.destroy();
    });
  after(inFlight);
}

/**
 * `clientError` listener: a request Node's parser refuses (headers past `maxHeaderSize` → 431,
 * malformed → 400) gets the JSON error body and the security headers instead of Node's bare
 * status line. A request too slow to arrive gets the JSON 408 `request_timeout` the same way.
 */
export function createClientErrorHandler(instanceId: string) {
  return (error: NodeJS.ErrnoException, socket: Duplex) => {
    // An errored parser refuses every later chunk again: the connection is answered (or waits to
    // be) and lingering.
    if ((answered.has(socket) || waiting.has(socket)) && error.code !== 'ECONNRESET') return;
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const inFlight = inFlightOn(socket);
    if (inFlight) {
      refuseAfter(inFlight, socket, refusal(error, instanceId));
      return;
    }
    // Nothing is written once the answer on the connection has started (that would corrupt it).
    const response = responseOn(socket);
    if (response?.headersSent) {
      socket.destroy();
      return;
    }
    // An answer under way to a request not yet whole: the error is in its body.
    refusal(error, instanceId, response?.req?.complete === false ? response.req : undefined)(socket);
  };
}

/**
 * For `@hono/node-server`'s `errorHandler`: a request it cannot turn into a `Request` (bad
 * `Host`, a backslash in the path) is a 400 `invalid_request`; anything else a generic 500.
 */
export function createRequestErrorResponse(instanceId: string, logger: Logger) {
  return (error: unknown): Response => {
    const isRequestError = error instanceof Error && error.name === 'RequestError';
    if (!isRequestError) logger.error({ err: error }, 'unhandled error outside the app');
    const { status, headers, body } = isRequestError
      ? errorParts('invalid_request', 'the request is malformed', instanceId)
      : errorParts('server_error', 'internal error', instanceId);
    return new Response(body, { status, headers });
  };
}
