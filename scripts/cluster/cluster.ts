import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../../src/config/units.js';
import { DIST_MAIN } from './build.js';
import { startBackingServices } from './backing-services.js';
import { CleanupStack, settleAll, tempDir } from './cleanup.js';
import { type ClusterConfig, writeClusterConfig } from './cluster-config.js';
import { type ClusterInstance, type InstanceEnv, startInstance } from './instance.js';
import { renderBalancerConf } from './nginx-conf.js';
import { startNginxOnLoopback } from './nginx.js';
import { tcpProbe } from './tcp-probe.js';

export type { ClusterInstance } from './instance.js';
export type { ExitStatus } from './process.js';

export interface ClusterOptions {
  /** How many instances to start (at least 1). */
  instances: number;
  /** nginx port on 127.0.0.1; `0` or absent picks a free one. */
  port?: number;
  /** Use this Redis instead of starting a throwaway one. */
  redisUrl?: string;
  /** Use this PostgreSQL database instead of starting a throwaway server. */
  databaseUrl?: string;
  /** Redis key prefix (`cache.key_prefix`), to share one Redis; default `jwt:`. */
  keyPrefix?: string;
  /** Instances' `logging.level`; default `warn` (one line per request at `info`). */
  logLevel?: string;
  /** Instances' `server.shutdown_grace`; default `10s`. */
  shutdownGrace?: string;
  /** `false`: `limits.enabled: false` (load and soak runs send everything from 127.0.0.1); default on. */
  rateLimits?: boolean;
  /** Instances' `cache.revocation`; absent: the service default (`exact`). */
  revocation?: 'exact' | 'cached';
  /**
   * `true`: instances run the compiled `dist/main.js`, as the image does (built before, e.g. by
   * `buildService`: only its presence is checked); default: `src/main.ts` through tsx.
   */
  compiled?: boolean;
}

/** A running local cluster: N instances behind one nginx, sharing Redis, PostgreSQL and keys. */
export interface Cluster {
  /** nginx, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** Temp directory with the config, the key, the nginx files and one log per instance. */
  readonly dir: string;
  /** Every instance started so far, in start order (stopped ones included: check `running()`). */
  readonly instances: readonly ClusterInstance[];
  /** Starts one more instance (`jwt-<n+1>`), then re-renders the upstream and reloads nginx. */
  addInstance(): Promise<ClusterInstance>;
  /** Re-renders the upstream from the running instances and reloads nginx. */
  reload(): Promise<void>;
  /** Stops nginx, every instance (SIGTERM), Redis and PostgreSQL if started here; removes temp dirs. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a local jwt-cluster: Redis and PostgreSQL (throwaway unless URLs are given), a fresh
 * signing key and refresh secret, `instances` processes on free loopback ports (`jwt-1`…),
 * each ready on `/health/ready`, and nginx round-robin over them on `127.0.0.1:port`.
 * On failure everything already started is stopped again.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  if (!Number.isInteger(options.instances) || options.instances < 1) throw new Error('instances: needs a whole number ≥ 1');
  const shutdownGrace = options.shutdownGrace ?? '10s';
  const shutdownGraceMs = parseDuration(shutdownGrace);
  if (shutdownGraceMs === null) throw new Error(`shutdownGrace: "${shutdownGrace}" is not a duration (use e.g. 10s)`);
  if (options.compiled && !existsSync(DIST_MAIN)) throw new Error('compiled: dist/main.js is missing (npm run build)');
  if (options.port && (await tcpProbe('127.0.0.1', options.port))) throw new Error(`127.0.0.1:${options.port} is already in use (--port 0 picks a free port)`);
  const cleanup = new CleanupStack();
  try {
    const dir = tempDir(cleanup, 'jwt-cluster-run-');
    const nginxDir = join(dir, 'nginx');
    mkdirSync(nginxDir);
    const { redisUrl, databaseUrl } = await startBackingServices(options, cleanup);
    const config: ClusterConfig = writeClusterConfig(dir, {
      keyPrefix: options.keyPrefix ?? 'jwt:',
      logLevel: options.logLevel ?? 'warn',
      shutdownGrace,
      revocation: options.revocation,
      rateLimits: options.rateLimits ?? true,
    });
    const env: InstanceEnv = { configFile: config.configFile, redisUrl, databaseUrl, refreshSecret: config.refreshSecret, shutdownGraceMs, compiled: options.compiled ?? false };

    const instances: ClusterInstance[] = [];
    cleanup.add(() => Promise.all(instances.map((instance) => instance.stop('SIGTERM'))));
    let started = 0;
    const launch = async (): Promise<ClusterInstance> => {
      const instance = await startInstance(`jwt-${(started += 1)}`, env, dir);
      instances.push(instance);
      instances.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
      return instance;
    };
    // Migrations run under an advisory lock, so the instances may start all at once.
    await settleAll(Array.from({ length: options.instances }, launch));

    const conf = (listen: string) =>
      renderBalancerConf({ listen, dir: nginxDir, upstreams: instances.filter((instance) => instance.running()).map((instance) => `127.0.0.1:${instance.port}`) });
    const { listen, nginx } = await startNginxOnLoopback(nginxDir, conf, { port: options.port || undefined });
    cleanup.add(() => nginx.stop());

    let stopping: Promise<void> | undefined;
    return {
      url: `http://${listen}`,
      redisUrl,
      databaseUrl,
      dir,
      instances,
      async addInstance() {
        const instance = await launch();
        await nginx.reload(conf(listen));
        return instance;
      },
      reload: () => nginx.reload(conf(listen)),
      stop: () => (stopping ??= cleanup.run()),
    };
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw error;
  }
}
