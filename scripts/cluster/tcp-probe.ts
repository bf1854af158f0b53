import { createConnection } from 'node:net';

/**
 * Whether `host:port` accepts a TCP connection within 500 ms; with `exchange`, also whether it
 * answers `exchange.send` with a reply starting `exchange.expect` (e.g. Redis `PING` → `+PONG`).
 */
export function tcpProbe(host: string, port: number, exchange?: { send: string; expect: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    // A peer that closes without answering (another server on the port) ends the timeout too.
    socket.once('close', () => done(false));
    socket.once('connect', () => (exchange ? socket.write(exchange.send) : done(true)));
    socket.once('data', (data) => done(exchange !== undefined && data.toString().startsWith(exchange.expect)));
  });
}
