import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny API behind the gateway: answers 200 with the headers it received, and remembers them.
 * It takes headers as large as the gateway lets through (64 KiB): the API's limits are its own.
 */
export interface EchoUpstream {
  /** `127.0.0.1:PORT`, for an nginx `server` line. */
  address: string;
  /** Headers of every request that reached it, oldest first. */
  received: IncomingHttpHeaders[];
  close(): Promise<void>;
}

export function startEchoUpstream(): Promise<EchoUpstream> {
  const received: IncomingHttpHeaders[] = [];
  const server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    received.push(req.headers);
    req.resume();
    req.once('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        address: `127.0.0.1:${port}`,
        received,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
