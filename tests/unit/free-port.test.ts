import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralRangeStart, freePort } from '../../scripts/cluster/free-port.js';

const held: Server[] = [];
afterAll(async () => {
  await Promise.all(held.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort (the test harness)', () => {
  it('hands out ports below the ephemeral range, where no outgoing connection can take one, each once and each bindable', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const port = await freePort();
      held.push(await listen(port));
      ports.push(port);
    }
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(ephemeralRangeStart());
    }
  });
});
