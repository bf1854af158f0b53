import type { Context } from 'hono';
import { requestIdFrom } from '../response-headers.js';
import { answerHeaderList, type Authenticate } from './authenticate.js';

/** `/authenticate` as a Hono handler, for requests that reach the app directly (e.g. `app.request`). */
export function authenticateRoute(authenticate: Authenticate) {
  return async (c: Context) => {
    const answer = await authenticate({
      method: c.req.method,
      authorization: c.req.header('authorization'),
      requestId: requestIdFrom(c.req.header('x-request-id')),
    });
    const headers = new Headers();
    const list = answerHeaderList(answer);
    for (let i = 0; i < list.length; i += 2) headers.append(list[i] as string, list[i + 1] as string);
    return new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers });
  };
}
