import { createHash } from 'node:crypto';
import { Cluster, Command } from 'ioredis';
import type { RedisClient, ScriptFn } from './redis-client.js';
import * as lua from './lua/scripts.js';
import type { redisKeys } from './redis-keys.js';
import type { AuthenticateInput } from './session-store.js';

/** A command sent as the RESP its caller wrote: ioredis neither converts nor measures its arguments. */
class WrittenCommand extends Command {
  constructor(private readonly wire: string) {
    super('evalsha', []);
  }

  override toWritable(): string {
    return this.wire;
  }
}

type Bulk = (value: string) => string;

type Keys = ReturnType<typeof redisKeys>;

interface AuthenticateCallOptions {
  redis: RedisClient;
  /** The authenticate script as ioredis defines it (redis-session-store.ts). */
  script: ScriptFn;
  keys: Keys;
  throttleMs: number;
  idleMs: number;
}

/** A RESP bulk string, for a value whose characters are all ASCII (one byte each). */
const asciiBulk: Bulk = (value) => `$${value.length}\r\n${value}\r\n`;
const utf8Bulk: Bulk = (value) => `$${Buffer.byteLength(value)}\r\n${value}\r\n`;

const SHA = createHash('sha1').update(lua.authenticate).digest('hex');

/** The authenticate script's arguments for `checks`: the key count, KEYS and ARGV as lua/scripts.ts lays them out. */
function authenticateArgs(keys: Keys, throttleMs: number, idleMs: number, checks: readonly AuthenticateInput[]): (string | number)[] {
  const n = checks.length;
  const args: (string | number)[] = new Array<string | number>(1 + 5 * n + 2);
  args[0] = 3 * n;
  args[1 + 3 * n] = throttleMs;
  args[2 + 3 * n] = idleMs;
  for (let i = 0; i < n; i++) {
    const { userId, sessionId, jti, tokenVersion } = checks[i] as AuthenticateInput;
    args[1 + 3 * i] = keys.session(userId, sessionId);
    args[2 + 3 * i] = keys.tokenVersion(userId);
    args[3 + 3 * i] = keys.denied(userId, jti);
    args[3 + 3 * n + 2 * i] = tokenVersion;
    args[4 + 3 * n + 2 * i] = jti;
  }
  return args;
}

/** An EVALSHA of `args` (numbers as their decimal strings), as RESP bulk strings measured by `bulk`. */
function evalshaWire(sha: string, args: readonly (string | number)[], bulk: Bulk): string {
  const parts = new Array<string>(args.length + 1);
  parts[0] = `*${args.length + 2}\r\n$7\r\nevalsha\r\n${bulk(sha)}`;
  for (let i = 0; i < args.length; i++) parts[i + 1] = bulk(String(args[i]));
  return parts.join('');
}

/**
 * Sends a batch of `/authenticate` checks to the authenticate script and answers its reply (one
 * entry per check). On one Redis (`cache.url`, Sentinel) the EVALSHA is written straight as RESP:
 * ioredis measures each argument with `Buffer.byteLength` (a native call per argument, five per
 * check) and appends them one at a time, ~1 µs per check on this machine, the largest share of
 * the hot path's Redis work. Here the command is joined once and measured once: when every
 * character is ASCII (ids, numbers, the usual key prefix), each argument's length is its byte
 * length; otherwise it is written again measuring each argument. A NOSCRIPT (Redis restarted,
 * failed over or flushed its scripts) sends the batch again through ioredis's script call, which
 * loads the script. A Cluster gets that call alone: it routes a command by the keys ioredis reads
 * from its arguments, which a written command does not list.
 */
export function createAuthenticateCall({ redis, script, keys, throttleMs, idleMs }: AuthenticateCallOptions) {
  const argsOf = (checks: readonly AuthenticateInput[]) => authenticateArgs(keys, throttleMs, idleMs, checks);
  if (redis instanceof Cluster) return (checks: readonly AuthenticateInput[]) => script(...argsOf(checks));

  return (checks: readonly AuthenticateInput[]): Promise<unknown> => {
    const args = argsOf(checks);
    let wire = evalshaWire(SHA, args, asciiBulk);
    if (Buffer.byteLength(wire) !== wire.length) wire = evalshaWire(SHA, args, utf8Bulk);
    const command = new WrittenCommand(wire);
    void redis.sendCommand(command);
    return command.promise.catch((error: unknown) => (isNoScript(error) ? script(...args) : Promise.reject(error)));
  };
}

/** Redis's answer to an EVALSHA of a script it does not hold. */
const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');
