import { connect, createServer, type Socket } from 'node:net';
import type { TestContext } from 'vitest';

const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'rediss:': 6379, 'postgres:': 5432, 'postgresql:': 5432 };

/**
 * A TCP relay listening on `host` (a free port) to the server of `serverUrl`, as a client sees
 * that server through it; it closes when the test ends. `url` is `serverUrl` with the relay's
 * host and port (its user, password and path kept); `push` slips bytes of the server's in between
 * its replies (call it while no reply is under way), and `hold` stops passing replies on, as a
 * frozen server would.
 */
export async function relayTo(serverUrl: string, { onTestFinished }: Pick<TestContext, 'onTestFinished'>, host = '127.0.0.1') {
  const target = new URL(serverUrl);
  const port = Number(target.port || DEFAULT_PORTS[target.protocol]);
  const clients = new Set<Socket>();
  let holding = false;
  const relay = createServer((client) => {
    const upstream = connect(port, target.hostname.replace(/^\[(.*)\]$/, '$1'));
    clients.add(client);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) client.write(chunk);
    });
    const close = () => {
      clients.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve, reject) => relay.once('error', reject).listen(0, host, resolve));
  onTestFinished(() => {
    for (const client of clients) client.destroy();
    relay.close();
  });
  const url = new URL(target);
  url.hostname = host.includes(':') ? `[${host}]` : host;
  url.port = String((relay.address() as { port: number }).port);
  return {
    url: url.toString(),
    push: (bytes: string) => clients.forEach((client) => client.write(bytes)),
    hold: () => {
      holding = true;
    },
  };
}
