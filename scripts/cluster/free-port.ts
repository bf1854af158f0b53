import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port handed out: below it live well-known services (PostgreSQL, Redis, 8080, …). */
const LOWEST = 20_000;
/** At least this many ports between `LOWEST` and the ephemeral range, or the kernel picks instead. */
const ENOUGH = 2_000;

/** Ports this process has handed out, never handed out twice (cleared should it ever fill). */
const handedOut = new Set<number>();

/**
 * A TCP port that is free on 127.0.0.1 right now (the caller should bind it soon).
 *
 * Picked at random below the kernel's ephemeral range (`ip_local_port_range`), where no outgoing
 * connection takes a port: the ports of clients' connections (a Redis Cluster's own bus
 * connections, a load generator's) come from that range, and one could otherwise take a port
 * between its being found free here and a server binding it. Each is checked by binding it, and
 * none is handed out twice by one process.
 */
export async function freePort(): Promise<number> {
  const highest = ephemeralRangeStart() - 1;
  if (roomBelowEphemeralRange()) {
    if (handedOut.size > (highest - LOWEST) / 2) handedOut.clear();
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const port = randomInt(LOWEST, highest + 1);
      if (handedOut.has(port) || !(await bindable(port))) continue;
      handedOut.add(port);
      return port;
    }
  }
  return kernelPickedPort();
}

/**
 * `start()`, again (up to `attempts` in all) while it fails because a port it was given is in use.
 * Ports are only found free, then given to a server: another process (a test file beside this
 * one that picked the same port) may take one in between, and the server then exits at start-up
 * saying so (`isPortTaken`); `start` picks new ones each time. Any other failure fails at once.
 */
export async function retryWhilePortTaken<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (error) {
      if (!isPortTaken(error) || attempt >= attempts) throw error;
    }
  }
}

/**
 * Whether a server's start-up failed on a port in use: Redis, PostgreSQL and nginx log "Address
 * already in use" (`startNginx` says so too when something answers on its port first), the
 * service "cannot listen on … (EADDRINUSE)".
 */
export const isPortTaken = (error: unknown): boolean => error instanceof Error && /address already in use|EADDRINUSE/i.test(error.message);

/** `start(port)` on a free port, and again on another while the one it had was taken meanwhile. */
export const onFreePort = <T>(start: (port: number) => Promise<T>): Promise<T> => retryWhilePortTaken(async () => start(await freePort()));

/** `start(port)` on the port asked for (the caller's: no other is tried), or else `onFreePort(start)`. */
export const onPortOrFree = <T>(port: number | undefined, start: (port: number) => Promise<T>): Promise<T> => (port === undefined ? onFreePort(start) : start(port));

/** Whether `freePort` picks below the ephemeral range; if not (a range that starts low), the kernel picks. */
export const roomBelowEphemeralRange = (): boolean => ephemeralRangeStart() - 1 - LOWEST >= ENOUGH;

let ephemeralStart: number | undefined;

/** The first port of the kernel's ephemeral range (Linux); 49152, IANA's, where it cannot be read. */
export function ephemeralRangeStart(): number {
  if (ephemeralStart === undefined) {
    try {
      const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
      ephemeralStart = Number.isInteger(Number(low)) && Number(low) > 0 ? Number(low) : 49_152;
    } catch {
      ephemeralStart = 49_152;
    }
  }
  return ephemeralStart;
}

/** Whether 127.0.0.1:`port` can be listened on now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port the kernel picks (from the ephemeral range): the fallback. */
function kernelPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}
