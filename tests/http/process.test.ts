import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { generateKeyMaterial } from '../../src/tokens/generate-key.js';
import { createKeyRing } from '../../src/tokens/key-ring.js';
import { freshDatabase } from '../helpers/services.js';
import { call, PASSWORD, uniqueEmail } from '../helpers/test-app.js';
import { TSX_LOADER } from '../helpers/tsx-loader.js';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'jwt-process-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the real entry point as a child process in `cwd` with a clean environment. */
function run(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: options.cwd, LOG_MODE: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/**
 * Starts the entry point in a fresh directory, with `yaml` as its config.yml if given; resolves
 * once it listens (on the port its "listening" line names).
 */
async function started(prefix: string, yaml?: string, env?: Record<string, string>) {
  const cwd = mkdtempSync(join(work, prefix));
  if (yaml !== undefined) writeFileSync(join(cwd, 'config.yml'), yaml);
  const service = run([join(root, 'src/main.ts')], { cwd, env });
  const port = () => /"port":(\d+)[^\n]*listening/.exec(service.output().stdout)?.[1];
  try {
    // Generous: a first start initialises PGlite, and CI runs other test files alongside.
    await expect.poll(port, { timeout: 90_000, interval: 200, message: 'the service never printed its listening line' }).toBeDefined();
  } catch (error) {
    service.child.kill('SIGKILL');
    throw error;
  }
  return { service, cwd, port: Number(port()) };
}

/** The JSON lines a service printed. */
const jsonLines = (service: ReturnType<typeof run>) =>
  service.output().stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the service as a process', () => {
  it('starts embedded with no Redis or Postgres, serves the flow, and stops with exit 0 on SIGTERM', async () => {
    // Port 0: the OS picks a free port, which the service names in its "listening" line.
    const { service, cwd, port } = await started('embedded-', undefined, { PORT: '0', CONFIG_FILE: join(root, 'config.yml') });
    try {
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/ping`)).status).toBe(200);
      const email = uniqueEmail();
      expect((await call(base, 'POST', '/register', { body: { email, password: PASSWORD } })).status).toBe(201);
      const login = await call(base, 'POST', '/login', { body: { email, password: PASSWORD } });
      expect((await call(base, 'GET', '/authenticate', { token: login.body?.access_token as string })).status).toBe(200);
      expect((await call(base, 'GET', '/authenticate')).status).toBe(401);
      const { stdout } = service.output();
      expect(stdout).toContain('single instance only');
      expect(stdout).toContain('DEVELOPMENT SIGNING KEY');
      expect(stdout).not.toContain(PASSWORD);
      expect(stdout).not.toContain(login.body?.access_token as string);
      expect(readdirSync(join(cwd, 'data'))).toContain('dev-signing-key.EdDSA');
    } finally {
      service.child.kill('SIGTERM');
    }
    const [code] = await service.exited;
    expect(code).toBe(0);
    const lines = jsonLines(service);
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
    const requests = lines.filter((line) => line.msg === 'request');
    // /authenticate's 200s are not logged by default (logging.authenticate_successes), its 401s are.
    expect(requests).toContainEqual(expect.objectContaining({ level: 30, method: 'GET', path: '/authenticate', status: 401 }));
    expect(requests).not.toContainEqual(expect.objectContaining({ path: '/authenticate', status: 200 }));
    // Every other route logs its 200s.
    expect(requests).toContainEqual(expect.objectContaining({ method: 'GET', path: '/ping', status: 200 }));
    expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', path: '/register', status: 201 }));
    for (const line of requests) expect(line.reqId).toMatch(/^[\w.:-]+$/);
  }, 120_000);

  it('logs the 200s of /authenticate too with logging.authenticate_successes; every line names the instance', async () => {
    const yaml = 'server:\n  host: 127.0.0.1\n  port: 0\nlogging:\n  authenticate_successes: true\n';
    const { service, port } = await started('successes-', yaml, { INSTANCE_ID: 'replica-7' });
    try {
      const base = `http://127.0.0.1:${port}`;
      const registered = await call(base, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } });
      const authenticated = await call(base, 'GET', '/authenticate', { token: registered.body?.access_token as string });
      expect(authenticated.status).toBe(200);
      expect(authenticated.headers.get('x-instance-id')).toBe('replica-7');
    } finally {
      service.child.kill('SIGTERM');
    }
    expect((await service.exited)[0]).toBe(0);
    const lines = jsonLines(service);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', method: 'GET', path: '/authenticate', status: 200 }));
    // The access lines (written by hand) and the logger's own alike.
    expect(lines.filter((line) => line.msg === 'request').length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatchObject({ instance: 'replica-7', pid: service.child.pid });
  }, 120_000);

  it.each([
    ['an unknown key', 'server:\n  bogus: 1\n', 'server.bogus: unknown key'],
    ['a bad duration', 'auth:\n  access_lifetime: soon\n', 'auth.access_lifetime'],
    ['cluster mode without keys', 'cache:\n  url: redis://127.0.0.1:1\ndatabase:\n  url: postgres://127.0.0.1:1/jwt\n', 'auth.keys'],
    ['cluster mode without a database', 'cache:\n  url: redis://127.0.0.1:1\n', 'database.url'],
    ['a metrics port equal to the port', 'server:\n  port: 18080\n  metrics_port: 18080\n', 'server.metrics_port: must differ from server.port'],
    ['a data directory that is a file', 'database:\n  data_dir: config.yml\n', 'database.data_dir: cannot use config.yml as a directory (EEXIST)'],
    ['a host with a port in it', 'server:\n  host: "localhost:8080"\n  port: 0\n', 'server.host: cannot listen on localhost:8080:0 (ENOTFOUND)'],
  ])('refuses to start on %s with one line naming the key', async (_name, yaml, expected) => {
    const cwd = mkdtempSync(join(work, 'bad-'));
    writeFileSync(join(cwd, 'config.yml'), yaml);
    const service = run([join(root, 'src/main.ts')], { cwd });
    const [code] = await service.exited;
    const { stderr } = service.output();
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(expected);
    expect(stderr).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
  }, 30_000);

  it('refuses a development refresh secret cut short (a crash while it was written), naming the file', async () => {
    const cwd = mkdtempSync(join(work, 'dev-secret-'));
    mkdirSync(join(cwd, 'data'), { mode: 0o700 });
    writeFileSync(join(cwd, 'data', 'dev-refresh-secret'), 'cut-short', { mode: 0o600 });
    writeFileSync(join(cwd, 'config.yml'), 'server:\n  host: 127.0.0.1\n  port: 0\n');
    const service = run([join(root, 'src/main.ts')], { cwd });
    const [code] = await service.exited;
    expect(code).toBe(2);
    expect(service.output().stderr).toContain('data/dev-refresh-secret (delete it to have a new one made): needs at least 32 bytes');
  }, 30_000);

  it('refuses an unknown or incomplete command-line option in one line (exit 2) instead of starting on another config', async () => {
    const cwd = mkdtempSync(join(work, 'usage-'));
    for (const [args, expected] of [
      [['--confg', 'other.yml'], "Unknown option '--confg'"],
      [['--config'], "Option '--config <value>' argument missing"],
    ] as const) {
      const service = run([join(root, 'src/main.ts'), ...args], { cwd });
      const [code] = await service.exited;
      expect(code).toBe(2);
      expect(service.output().stderr.trim().split('\n')).toEqual([`jwt-cluster: cannot start: ${expected}`]);
    }
    // Nothing was started: the embedded default would have made its data directory here.
    expect(readdirSync(cwd)).toEqual([]);
  }, 30_000);

  it('refuses to start, in one line naming the store and its error, when PostgreSQL or Redis is unavailable (exit 1)', async () => {
    const cwd = mkdtempSync(join(work, 'unreachable-'));
    writeFileSync(join(cwd, 'signing.pem'), generateKeyMaterial('EdDSA').privateKey);
    const config = (database: string, redis: string) =>
      `cache:\n  url: ${redis}\ndatabase:\n  url: ${database}\n  connect_timeout: 1s\nauth:\n  keys:\n    - { kid: k1, file: signing.pem }\n`;
    const env = { REFRESH_SECRET: 'x'.repeat(48) };
    const missingDatabase = Object.assign(new URL(await freshDatabase()), { pathname: '/jwt_never_made' }).toString();
    for (const [yaml, expected] of [
      [config('postgres://jwt:pw@127.0.0.1:1/jwt', 'redis://127.0.0.1:1'), 'PostgreSQL (database.url) is unavailable: connect ECONNREFUSED 127.0.0.1:1'],
      [config(await freshDatabase(), 'redis://:pw@127.0.0.1:1'), 'Redis (cache.url / sentinel / cluster) is unavailable: connect ECONNREFUSED 127.0.0.1:1'],
      // A database not made yet (an init job may make it): retried like an unreachable server.
      [config(missingDatabase, 'redis://127.0.0.1:1'), 'PostgreSQL (database.url) is unavailable: database "jwt_never_made" does not exist'],
    ] as const) {
      writeFileSync(join(cwd, 'config.yml'), yaml);
      const service = run([join(root, 'src/main.ts')], { cwd, env });
      const [code] = await service.exited;
      const { stderr } = service.output();
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([`jwt-cluster: cannot start: ${expected}`]);
    }
  }, 60_000);

  it('refuses to start, in one line naming database.url, when a certificate file the url names cannot be read (exit 2: a configuration mistake)', async () => {
    const cwd = mkdtempSync(join(work, 'pg-cert-'));
    const url = `${await freshDatabase()}?sslmode=verify-full&sslrootcert=${join(cwd, 'missing-ca.pem')}`;
    writeFileSync(join(cwd, 'config.yml'), `database:\n  url: "${url}"\n`);
    const service = run([join(root, 'src/main.ts')], { cwd });
    onTestFinished(() => void service.child.kill('SIGKILL'));
    const [code] = await service.exited;
    const { stderr } = service.output();
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([`jwt-cluster: cannot start: database.url (or the PG* environment): ENOENT: no such file or directory, open '${join(cwd, 'missing-ca.pem')}'`]);
  }, 60_000);

  it('refuses to start, with one line naming the key, when the metrics port is taken', async () => {
    const taken = createNetServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    try {
      const port = (taken.address() as AddressInfo).port;
      const cwd = mkdtempSync(join(work, 'taken-'));
      writeFileSync(join(cwd, 'config.yml'), `server:\n  host: 127.0.0.1\n  port: 0\n  metrics_port: ${port}\n`);
      const service = run([join(root, 'src/main.ts')], { cwd });
      const [code] = await service.exited;
      const { stderr } = service.output();
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`server.metrics_port: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    } finally {
      taken.close();
    }
  }, 60_000);

  it('keys:generate writes a key pair the key ring accepts', async () => {
    const cwd = mkdtempSync(join(work, 'keys-'));
    const generate = run([join(root, 'src/tokens/generate-keys-cli.ts'), '--alg', 'ES256', '--kid', 'k1', '--out', 'keys'], { cwd });
    const [code] = await generate.exited;
    expect(code).toBe(0);
    expect(generate.output().stdout).toContain('kid: k1');
    const ring = await createKeyRing('ES256', [{ kid: 'k1', file: join(cwd, 'keys/k1.pem'), value: undefined, sign: true }]);
    expect(ring.signer.kid).toBe('k1');
    expect(ring.jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', kid: 'k1' });
  }, 30_000);

  it('keys:generate refuses, in one line, a kid in use, a kid the config would refuse, and an unknown option; --help writes nothing', async () => {
    const cwd = mkdtempSync(join(work, 'keys-refused-'));
    const generate = async (args: string[]) => {
      const child = run([join(root, 'src/tokens/generate-keys-cli.ts'), ...args], { cwd });
      const [code] = await child.exited;
      return { code, ...child.output() };
    };
    expect((await generate(['--kid', 'k1'])).code).toBe(0);
    for (const [args, message] of [
      [['--kid', 'k1'], 'keys/k1.pem exists already'],
      [['--kid', '../escaped'], '--kid may only contain'],
      [['--colour', 'red'], "Unknown option '--colour'"],
    ] as const) {
      const refused = await generate([...args]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toBe(`keys:generate: ${refused.stderr.slice('keys:generate: '.length)}`);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(message);
    }
    const help = await generate(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run keys:generate');
    expect(readdirSync(cwd).sort()).toEqual(['keys']);
    expect(readdirSync(join(cwd, 'keys')).sort()).toEqual(['k1.pem', 'k1.pub.pem']);
  }, 60_000);

  it('a second SIGTERM during the drain (a second or more after the first) stops at once (exit 1), not after server.shutdown_grace', async () => {
    const { service, port } = await started('second-signal-', 'server:\n  host: 127.0.0.1\n  port: 0\n  shutdown_grace: 60s\n');
    try {
      // A request still in flight (its body never finishes) holds the drain open.
      const held = connect(port, '127.0.0.1');
      await once(held, 'connect');
      held.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email"');
      held.on('error', () => {});
      await sleep(1000); // the server has read the request's head: it is in flight
      service.child.kill('SIGTERM');
      // One Ctrl-C can arrive twice, milliseconds apart (relayed by npm and tsx): not a second
      // signal. Sent at once, not after the first's log line, which the log's buffer may hold back.
      await sleep(50);
      service.child.kill('SIGTERM');
      await expect.poll(() => service.output().stdout.includes('shutting down'), { timeout: 10_000, interval: 10 }).toBe(true);
      await sleep(1200);
      expect(service.output().stdout).not.toContain('second signal');
      expect(service.child.exitCode).toBeNull();
      const started = performance.now();
      service.child.kill('SIGTERM');
      const [code] = await service.exited;
      expect(code).toBe(1);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(service.output().stdout).toContain('second signal');
      held.destroy();
    } finally {
      service.child.kill('SIGKILL');
    }
  }, 120_000);
});
