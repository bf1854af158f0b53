import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { freePort, isPortTaken, retryWhilePortTaken } from '../../scripts/cluster/free-port.js';
import { startNginx } from '../../scripts/cluster/nginx.js';
import { postgresAnswers, startPostgres } from '../../scripts/cluster/postgres.js';
import { startRedis } from '../../scripts/cluster/redis.js';
import { tcpProbe } from '../../scripts/cluster/tcp-probe.js';

const cleanup = new CleanupStack();
afterAll(() => cleanup.run());

/** A real loopback port held by this test until it ends. */
async function heldPort(): Promise<number> {
  // Connections (the readiness probes of the servers that fail) are dropped, so none keeps it open.
  const holder: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  cleanup.add(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as AddressInfo).port;
}

/** The error `start` rejects with (fails the test if it starts). */
async function failure(start: Promise<{ stop(): Promise<unknown> }>): Promise<unknown> {
  const outcome = await start.then(
    (server) => {
      cleanup.add(() => server.stop());
      return undefined;
    },
    (error: unknown) => error ?? new Error('rejected without an error'),
  );
  expect(outcome, 'started on a port already taken').toBeDefined();
  return outcome;
}

describe('throwaway servers and the ports they are given', () => {
  it('starts again on new ports when one it was given was taken meanwhile (as a Redis Cluster bus port was, once, in CI)', async () => {
    const busPorts = [await heldPort()];
    const dir = tempDir(cleanup, 'jwt-redis-retry-');
    const failures: unknown[] = [];
    const server = await retryWhilePortTaken(async () => {
      const busPort = busPorts.shift() ?? (await freePort());
      // Both ports given, as a Redis Cluster node's are (startRedis retries only a port it picked itself).
      return startRedis(dir, { name: 'redis-retry', port: await freePort(), args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort)] }).catch((error: unknown) => {
        failures.push(error);
        throw error;
      });
    });
    cleanup.add(() => server.stop());
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain('Address already in use');
    expect(server.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  });

  it('recognises the start-up failure of each kind of server on a taken port, so each is retried', async () => {
    const port = await heldPort();
    const redis = await failure(startRedis(tempDir(cleanup, 'jwt-redis-taken-'), { port }));
    const postgres = await failure(startPostgres(tempDir(cleanup, 'jwt-pg-taken-', '/tmp'), { port }));
    const nginxDir = tempDir(cleanup, 'jwt-nginx-taken-');
    const conf = `pid ${nginxDir}/nginx.pid; error_log stderr; events {} http { server { listen 127.0.0.1:${port}; return 204; } }`;
    // startNginx finds the port answering before it starts nginx; nginx's own bind error ("Address already in use") also matches.
    const nginx = await failure(startNginx(nginxDir, conf, `127.0.0.1:${port}`));
    for (const error of [redis, postgres, nginx]) expect(isPortTaken(error), String(error)).toBe(true);
    // The service says it as tests/http/process.test.ts checks: "cannot listen on 127.0.0.1:<port> (EADDRINUSE)".
    expect(isPortTaken(new Error(`server.port: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`))).toBe(true);
  });

  it('probes a port whose server closes every connection as not ready (Redis\'s probe and PostgreSQL\'s waited forever)', async () => {
    // Before, it never settled: the test's timeout failed it.
    expect(await tcpProbe('127.0.0.1', await heldPort(), { send: 'PING\r\n', expect: '+PONG' })).toBe(false);
    expect(await postgresAnswers(`postgres://probe@127.0.0.1:${await heldPort()}/postgres`, 500)).toBe(false);
  });

  it('gives up after its attempts, and at once on any other failure', async () => {
    let calls = 0;
    const taken = () => {
      calls += 1;
      return Promise.reject(new Error('redis exited during start-up (code 1): bind: Address already in use'));
    };
    await expect(retryWhilePortTaken(taken, 3)).rejects.toThrow('Address already in use');
    expect(calls).toBe(3);
    calls = 0;
    const broken = () => {
      calls += 1;
      return Promise.reject(new Error('redis exited during start-up (code 1): Bad directive'));
    };
    await expect(retryWhilePortTaken(broken, 3)).rejects.toThrow('Bad directive');
    expect(calls).toBe(1);
  });
});
