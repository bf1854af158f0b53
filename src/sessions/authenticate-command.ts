import { createHash } from 'node:crypto';
import { Cluster, Command } from 'ioredis';
import type { RedisArg, RedisClient } from './redis-client.js';
import * as lua from './lua/scripts.js';
import type { RedisKeys } from './redis-keys.js';
import type { AuthenticateInput } from './session-store.js';

type Bulk = (value: string) => string;

/** A RESP bulk string, for a value whose characters are all ASCII (one byte each). */
const asciiBulk: Bulk = (value) => `$${value.length}\r\n${value}\r\n`;
const utf8Bulk: Bulk = (value) => `$${Buffer.byteLength(value)}\r\n${value}\r\n`;

function joined(name: string, args: readonly RedisArg[], bulk: Bulk): string {
  const parts = new Array<string>(args.length + 1);
  parts[0] = `*${args.length + 1}\r\n${bulk(name)}`;
  for (let i = 0; i < args.length; i++) parts[i + 1] = bulk(String(args[i]));
  return parts.join('');
}

/**
 * The RESP of a command, the bytes ioredis's `Command#toWritable` writes for it (numbers as their
 * decimal strings), joined once and measured once: when every character is ASCII (ids, numbers,
 * the usual key prefix), each argument's length is its byte length; otherwise it is joined again
 * measuring each argument (a string's UTF-8 length equals its length only when all of it is ASCII).
 */
export function joinedCommand(name: string, args: readonly RedisArg[]): string {
  const wire = joined(name, args, asciiBulk);
  return Buffer.byteLength(wire) === wire.length ? wire : joined(name, args, utf8Bulk);
}

/**
 * An ioredis command sent as the RESP given (`joinedCommand`). ioredis's own copies and converts
 * its arguments when made and measures each with `Buffer.byteLength` when written: for a batch of
 * ten `/authenticate` checks (five arguments each) that, and the socket's encoding, cost ~13 µs
 * here against ~4.5 µs joined (bench/RESULTS.md). Timeouts, replies and errors stay ioredis's; it
 * lists no arguments (errors, debug output and tracing show no keys), so a Cluster cannot route it.
 */
class JoinedCommand extends Command {
  constructor(
    name: string,
    private readonly wire: string,
  ) {
    super(name, []);
  }

  override toWritable(): string {
    return this.wire;
  }
}

/**
 * The authenticate script's arguments for `checks` after a free first slot (the script or its
 * SHA, set when sent): the key count, then KEYS and ARGV as lua/scripts.ts lays them out.
 */
function authenticateArgs(keys: RedisKeys, throttleMs: number, idleMs: number, checks: readonly AuthenticateInput[]) {
  const n = checks.length;
  const args = new Array<RedisArg>(2 + 5 * n + 2);
  args[1] = 3 * n;
  args[2 + 3 * n] = throttleMs;
  args[3 + 3 * n] = idleMs;
  for (let i = 0; i < n; i++) {
    const { userId, sessionId, jti, tokenVersion } = checks[i] as AuthenticateInput;
    args[2 + 3 * i] = keys.session(userId, sessionId);
    args[3 + 3 * i] = keys.tokenVersion(userId);
    args[4 + 3 * i] = keys.denied(userId, jti);
    args[4 + 3 * n + 2 * i] = tokenVersion;
    args[5 + 3 * n + 2 * i] = jti;
  }
  return args;
}

/** Redis's answer to an EVALSHA of a script it does not hold. */
const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

const SHA = createHash('sha1').update(lua.authenticate).digest('hex');

interface AuthenticateCallOptions {
  redis: RedisClient;
  keys: RedisKeys;
  throttleMs: number;
  idleMs: number;
}

/**
 * Sends a batch of `/authenticate` checks to the authenticate script as an EVALSHA whose RESP is
 * joined once (`JoinedCommand`) and answers its reply, one integer per check. A NOSCRIPT (a server
 * that never ran it: new, restarted, failed over to, or its scripts flushed) sends the batch once
 * more as an EVAL, which also loads the script for the next EVALSHA: nothing ran the first time.
 * So after a server starts, restarts or is failed over to, each batch an instance sends before the
 * first EVAL loads the script takes one round trip more, and Redis counts its NOSCRIPT
 * (`errorstat_NOSCRIPT`).
 */
export function createAuthenticateCall({ redis, keys, throttleMs, idleMs }: AuthenticateCallOptions) {
  const cluster = redis instanceof Cluster;
  return (checks: readonly AuthenticateInput[]): Promise<unknown> => {
    const args = authenticateArgs(keys, throttleMs, idleMs, checks);
    const send = (name: 'evalsha' | 'eval', script: string) => {
      args[0] = script;
      // A Cluster routes a command by the keys it lists: there ioredis writes it.
      const command = cluster ? new Command(name, args) : new JoinedCommand(name, joinedCommand(name, args));
      void redis.sendCommand(command);
      return command.promise;
    };
    return send('evalsha', SHA).catch((error: unknown) => (isNoScript(error) ? send('eval', lua.authenticate) : Promise.reject(error)));
  };
}
