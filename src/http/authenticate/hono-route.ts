import type { Context } from 'hono';
import type { Authenticate } from './decide.js';

/** `/authenticate` as a Hono handler, for requests that reach the app directly (e.g. `app.request`). */
export function authenticateRoute(authenticate: Authenticate) {
  return async (c: Context) => {
    const answer = await authenticate({
      method: c.req.method,
      authorization: c.req.header('authorization'),
      requestId: c.req.header('x-request-id'),
    });
    const headers = new Headers();
    for (let i = 0; i < answer.headers.length; i += 2) headers.append(answer.headers[i] as string, answer.headers[i + 1] as string);
    return new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers });
  };
}
