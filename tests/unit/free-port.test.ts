import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralRangeStart, freePort, roomBelowEphemeralRange } from '../../scripts/cluster/free-port.js';

/** Listens on 127.0.0.1:`port` and closes again: the port was free. */
function bindAndClose(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

describe('freePort (the test harness)', () => {
  it('hands out free ports below the ephemeral range, where no outgoing connection can take one, never one twice', async () => {
    const ports: number[] = [];
    // Each is free again before the next is asked for: only the process's own record keeps it from coming back.
    for (let i = 0; i < 300; i += 1) {
      const port = await freePort();
      await bindAndClose(port);
      ports.push(port);
    }
    expect(new Set(ports).size).toBe(ports.length);
    if (!roomBelowEphemeralRange()) return; // the kernel picks on a machine whose ephemeral range starts low
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(ephemeralRangeStart());
    }
  });
});
