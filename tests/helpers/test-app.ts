import type { Server } from 'node:http';
import { afterAll, expect } from 'vitest';
import type { AppDeps } from '../../src/app-deps.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createDeps, instanceIdOf } from '../../src/deps.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, stopServer } from '../../src/server.js';
import { generateKeyMaterial } from '../../src/tokens/generate-key.js';
import { freshDatabase, testRedisUrl, uniquePrefix } from './services.js';

type DeepPartialInput = { [K in keyof Config]?: Record<string, unknown> };

/** One running instance of the real service on a loopback port. */
export interface TestInstance {
  url: string;
  deps: AppDeps;
  /** Its HTTP listener (its `close` event: the drain is over, the stores are closing next). */
  server: Server;
  /** A graceful stop (`stopServer`), in-flight requests given `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** A shared backend (one Redis key prefix, one fresh database, one key ring) for one or more instances. */
export interface TestCluster {
  config: Config;
  /**
   * Starts one more instance on the shared backend. `variant` overrides config sections for
   * this instance only (e.g. `{ auth: { keys } }`: a replica mid-way through a key rotation).
   */
  start(variant?: DeepPartialInput): Promise<TestInstance>;
}

const signingKey = generateKeyMaterial('EdDSA').privateKey;

const running = new Set<TestInstance>();

/** Stops every instance still running. A file that stops servers of its own calls it first. */
export async function stopTestInstances(): Promise<void> {
  await Promise.all([...running].map((instance) => instance.stop()));
}

/**
 * Every instance still running when its test file ends is stopped then. Registered here, when a
 * test file imports this module: vitest 4 never runs an `afterAll` added inside `beforeAll` or a
 * test, where clusters are made. After-hooks run last-registered first, so this one runs after
 * the file's own.
 */
afterAll(stopTestInstances);

/**
 * Builds the config of a test cluster on the real throwaway Redis and PostgreSQL
 * (`embedded: true` uses the in-process store and PGlite instead).
 */
export async function testCluster(overrides: DeepPartialInput = {}, options: { embedded?: boolean; dataDir?: string } = {}): Promise<TestCluster> {
  const base: Record<string, Record<string, unknown>> = {
    logging: { level: 'silent', mode: 'json' },
    server: { host: '127.0.0.1', port: 0, shutdown_grace: '2s' },
    // Generous timeouts: a test machine running many files at once must not turn slow answers into
    // 503s. Fault tests that measure the production bounds set them explicitly.
    cache: options.embedded ? {} : { url: testRedisUrl(), key_prefix: uniquePrefix(), command_timeout: '3s' },
    database: options.embedded ? { data_dir: options.dataDir } : { url: await freshDatabase(), connect_timeout: '5s' },
    auth: { keys: [{ kid: 'test-key', value: signingKey }], refresh_secret: 'test-refresh-secret-0123456789abcdef' },
    passwords: {},
    // Off unless a test turns them on: test files register and log in hundreds of times from 127.0.0.1.
    limits: { enabled: false },
  };
  const merge = (into: Record<string, Record<string, unknown>>, extra: DeepPartialInput) => {
    const merged = { ...into };
    for (const [section, values] of Object.entries(extra)) merged[section] = { ...merged[section], ...values };
    return merged;
  };
  const input = merge(base, overrides);
  const config = configSchema.parse(input);
  return {
    config,
    async start(variant) {
      const instanceConfig = variant ? configSchema.parse(merge(input, variant)) : config;
      const deps = await createDeps(instanceConfig, createLogger(instanceConfig.logging, instanceIdOf(instanceConfig.server)));
      const { server, port } = await startServer(deps);
      let stopped = false;
      const instance: TestInstance = {
        url: `http://127.0.0.1:${port}`,
        deps,
        server: server as Server,
        async stop(graceMs = 1000) {
          if (stopped) return;
          stopped = true;
          running.delete(instance);
          await stopServer(instance.server, deps, graceMs);
        },
      };
      running.add(instance);
      return instance;
    },
  };
}

/** JSON request helper: returns status, headers and the parsed body (or `null`). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: Record<string, unknown> | null = null;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
  } catch {
    body = { raw: text };
  }
  return { status: response.status, headers: response.headers, body };
}

let counter = 0;
/** A unique e-mail for one test. */
export const uniqueEmail = () => `user${Date.now().toString(36)}${(counter += 1)}@example.test`;

export const PASSWORD = 'correct horse battery staple';

/**
 * `/authenticate` on `base` accepts `token`, read twice: `cached` mode remembers a token's answer
 * from its second read on, so a revocation after this has a cached answer to reach.
 */
export async function expectAccepted(base: string, token: string) {
  for (let read = 0; read < 2; read += 1) expect((await call(base, 'GET', '/authenticate', { token })).status).toBe(200);
}

/** Registers a fresh user and returns its tokens. */
export async function registerUser(base: string, email = uniqueEmail(), password = PASSWORD) {
  const response = await call(base, 'POST', '/register', { body: { email, password } });
  if (response.status !== 201 || !response.body) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return {
    email,
    password,
    accessToken: response.body.access_token as string,
    refreshToken: response.body.refresh_token as string,
    sessionId: response.body.session_id as string,
    userId: (response.body.user as { id: string }).id,
  };
}
