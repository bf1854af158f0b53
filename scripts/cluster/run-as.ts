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

/** The `postgres` system user when running as root (PostgreSQL refuses root), else nobody to switch to. */
export function postgresRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = idsOf('postgres');
  if (!user) throw new Error('running as root and there is no "postgres" user to run PostgreSQL as (apt-get install postgresql creates it)');
  return user;
}

/** `[command, args]` running `argv` as `runAs` through setpriv, which execs, so the pid stays the server's. */
export function asUser(runAs: RunAs | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (!runAs) return [command, [...args]];
  return ['setpriv', [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', command, ...args]];
}
