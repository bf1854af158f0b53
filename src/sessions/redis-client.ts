import type { Cluster, Redis } from 'ioredis';
import { UnavailableError } from '../errors.js';

/** A standalone/Sentinel connection or a Redis Cluster client: the session store works with either. */
export type RedisClient = Redis | Cluster;

/** A command argument as the session store passes them: numbers go as their decimal strings. */
export type RedisArg = string | number;

export type ScriptFn = (...args: RedisArg[]) => Promise<unknown>;

/**
 * Registers a Lua script on `redis` under `name` (EVALSHA, falling back to EVAL on NOSCRIPT) and
 * returns it bound. Without `numberOfKeys` the key count is the call's first argument.
 */
export function defineScript(redis: RedisClient, name: string, lua: string, numberOfKeys?: number): ScriptFn {
  redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  const fn = (redis as unknown as Record<string, ScriptFn>)[name];
  if (!fn) throw new Error(`script ${name} was not defined`);
  return fn.bind(redis);
}

/** Any failure to get an answer from Redis becomes a 503, never a 500 or a 200. */
export async function redisGuarded<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw new UnavailableError('session store', error);
  }
}
