import { waitAtMost } from '../util/wait-at-most.js';
import type { AuthDeps } from './deps.js';

/** Ends every session of `userId`; a failure is logged (`why`), not thrown. Resolves whether they ended. */
export function endAllLogged(deps: Pick<AuthDeps, 'sessions' | 'logger'>, userId: string, why: string): Promise<boolean> {
  return deps.sessions.endAll(userId).then(
    () => true,
    (error: unknown) => {
      deps.logger.error({ err: error, userId }, `${why}: ending every session failed`);
      return false;
    },
  );
}

/** Per session store (one per instance): the second ends of `endAllAroundLateWrite` still to come. */
const pendingEnds = new WeakMap<object, Set<Promise<unknown>>>();

/** A user store's write answered that it wrote: `true` (an update), `'changed'` (`changeAs`). */
const wrote = (answer: unknown) => answer === true || answer === 'changed';

/**
 * A user write the database did not answer in time may still land after its caller's 503
 * (`lateWrite`: `landing`), unseen by the sessions it must end (a disable, a role change, a new
 * password): they end now, and again once it has settled, for a login made meanwhile. If it
 * wrote, `record` puts it in the audit trail then (the caller's 503 could not say whether it
 * would; a failure to record is logged). A second end that fails is retried (`endRetries`), as a
 * failed first one is by the caller. Resolves whether the first end succeeded.
 */
export function endAllAroundLateWrite(
  deps: Pick<AuthDeps, 'sessions' | 'logger'> & Partial<Pick<AuthDeps, 'endRetries'>>,
  userId: string,
  landing: Promise<unknown>,
  why: string,
  record?: () => void,
): Promise<boolean> {
  let pending = pendingEnds.get(deps.sessions);
  if (!pending) pendingEnds.set(deps.sessions, (pending = new Set()));
  const late = `${why}, settled late`;
  const second = landing.then(async () => {
    if (!(await endAllLogged(deps, userId, late))) deps.endRetries?.schedule(userId, late);
  });
  pending.add(second);
  void second.then(() => pending.delete(second));
  const first = endAllLogged(deps, userId, why);
  if (record) {
    // After the first end, so it follows whatever the caller records of its 503.
    void first
      .then(() => landing)
      .then((answer) => (wrote(answer) ? record() : undefined))
      .catch((error: unknown) => deps.logger.error({ err: error, userId }, `${why} landed late: recording it failed`));
  }
  return first;
}

/**
 * How long a shutdown waits, at each of its two points, for late writes to settle: short, as with
 * the database frozen the first wait runs out, and the drain, the audit trail's last flush and the
 * user store's close (5 s each at most) must still fit the deployments' grace (compose 30 s, with
 * no preStop; Kubernetes 45 s, after a 5 s preStop).
 */
const LATE_WRITES_WAIT_MS = 2_000;

/** Waits (boundedly: `LATE_WRITES_WAIT_MS`) for the late writes on `sessions` to settle: see `closeDeps`. */
export async function lateWritesSettled(sessions: object): Promise<void> {
  const pending = [...(pendingEnds.get(sessions) ?? [])];
  if (pending.length === 0) return;
  await waitAtMost(Promise.allSettled(pending), LATE_WRITES_WAIT_MS);
}
