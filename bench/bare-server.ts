import { createServer } from 'node:http';

/** The baseline: a bare `node:http` server answering 200 to everything. Port from argv. */
const port = Number(process.argv[2]);
const body = Buffer.from('ok');
const server = createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  response.end(body);
});
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
