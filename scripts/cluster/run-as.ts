import { execFileSync } from 'node:child_process';

/** A uid/gid pair to run a child process as. */
export interface RunAs {
  uid: number;
  gid: number;
}

function idsOf(user: string): RunAs | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/** Created, as a system user without home or shell, where there is no `postgres` user. */
const FALLBACK_USER = 'jwtcluster-test';

/**
 * Whom PostgreSQL runs as, which refuses root: nobody to switch to unless we are root; then the
 * `postgres` user, else `jwtcluster-test`, created if need be.
 */
export function postgresRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = idsOf('postgres') ?? idsOf(FALLBACK_USER);
  if (existing) return existing;
  try {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', FALLBACK_USER], { stdio: 'ignore' });
  } catch {
    // Another process may have created it meanwhile: the lookup below decides.
  }
  const created = idsOf(FALLBACK_USER);
  if (!created) throw new Error(`running as root, with no "postgres" user, and could not create the user ${FALLBACK_USER} to run PostgreSQL as`);
  return created;
}

/** `[command, args]` running `argv` as `runAs` through setpriv, which execs, so the pid stays the server's. */
export function asUser(runAs: RunAs | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (!runAs) return [command, [...args]];
  return ['setpriv', [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', command, ...args]];
}
