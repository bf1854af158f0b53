import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DIST_MAIN, REPO_ROOT } from '../scripts/cluster/build.js';
import { onFreePort } from '../scripts/cluster/free-port.js';
import { isReady } from '../scripts/cluster/instance.js';
import { type ManagedProcess, spawnLogged, waitUntilReady } from '../scripts/cluster/process.js';
import { tcpProbe } from '../scripts/cluster/tcp-probe.js';
import { NODE_FLAGS } from '../src/node-flags.js';
import type { SigningSetup } from './load/jobs.js';
import { pinned } from './machine.js';

/** What every benchmarked instance shares: one signing key, one refresh secret, one Redis, one PostgreSQL. */
export interface ServiceEnv {
  dir: string;
  keyFile: string;
  kid: string;
  refreshSecret: string;
  redisUrl: string;
  databaseUrl: string;
}

/** A running HTTP server under test (the service or the bare baseline). */
export interface Server {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<unknown>;
}

export type RevocationMode = 'exact' | 'cached';

/** Issuer and audience the bench configures, so that tokens it signs itself match. */
export const ISSUER = 'jwt-bench';
export const AUDIENCE = 'bench-api';

function writeConfig(env: ServiceEnv, name: string, port: number, revocation: RevocationMode): string {
  const config = {
    server: { host: '127.0.0.1', port, instance_id: name },
    logging: { mode: 'json', level: 'info' },
    cache: { url: env.redisUrl, revocation },
    database: { url: env.databaseUrl },
    auth: { issuer: ISSUER, audience: AUDIENCE, keys: [{ kid: env.kid, file: env.keyFile }], refresh_secret: '${REFRESH_SECRET}' },
    // Benchmarks send everything from 127.0.0.1: brute-force limits would measure 429s.
    limits: { enabled: false },
  };
  const file = join(env.dir, `${name}.yml`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

function asServer(name: string, url: string, proc: ManagedProcess, signal: NodeJS.Signals): Server {
  return { name, url, pid: proc.pid, stop: () => proc.stop(signal, 10_000) };
}

/**
 * Starts `node <NODE_FLAGS> dist/main.js` (as the Docker image does) pinned to `cpu` (if given)
 * with its own config file; waits for `/health/ready`.
 */
export function startService(env: ServiceEnv, name: string, revocation: RevocationMode, cpu?: number): Promise<Server> {
  // On another port if this one was taken before the server bound it.
  return onFreePort((port) => startServiceOn(port, env, name, revocation, cpu));
}

async function startServiceOn(port: number, env: ServiceEnv, name: string, revocation: RevocationMode, cpu?: number): Promise<Server> {
  const configFile = writeConfig(env, name, port, revocation);
  const nodeArgs = [...NODE_FLAGS, DIST_MAIN];
  const [command, args] = cpu === undefined ? [process.execPath, nodeArgs] : pinned(cpu, process.execPath, nodeArgs);
  // The refresh secret travels by env, never to disk; other overrides are cleared so the file decides.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CONFIG_FILE: configFile, REFRESH_SECRET: env.refreshSecret };
  for (const key of ['PORT', 'REDIS_URL', 'DATABASE_URL', 'LOG_LEVEL', 'LOG_MODE']) delete childEnv[key];
  const proc = spawnLogged(name, command, args, { logFile: join(env.dir, `${name}.log`), env: childEnv, cwd: REPO_ROOT });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(proc, () => isReady(url), 30_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return asServer(name, url, proc, 'SIGTERM');
}

/** Starts a `node:http` baseline or bound (see bare-server.ts) pinned to `cpu`; the bounds need `signing`. */
export function startBareServer(dir: string, cpu: number, shape: 'bare' | 'shaped' | 'verify' | 'sign' = 'bare', signing?: SigningSetup): Promise<Server> {
  return onFreePort((port) => startBareServerOn(port, dir, cpu, shape, signing));
}

async function startBareServerOn(port: number, dir: string, cpu: number, shape: 'bare' | 'shaped' | 'verify' | 'sign', signing?: SigningSetup): Promise<Server> {
  const script = join(REPO_ROOT, 'bench', 'bare-server.ts');
  const scriptArgs = [script, String(port), shape, ...(signing ? [JSON.stringify(signing)] : [])];
  // The bounds stand for the service minus its logic, so they run with the service's flags; the
  // baselines are plain node:http.
  const flags = shape === 'verify' || shape === 'sign' ? NODE_FLAGS : [];
  const [command, args] = pinned(cpu, process.execPath, [...flags, '--import', 'tsx', ...scriptArgs]);
  const proc = spawnLogged(shape, command, args, { logFile: join(dir, `${shape}.log`), cwd: REPO_ROOT });
  try {
    await waitUntilReady(proc, () => tcpProbe('127.0.0.1', port), 20_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return asServer(shape, `http://127.0.0.1:${port}`, proc, 'SIGTERM');
}
