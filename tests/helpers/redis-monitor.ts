import { connect } from 'node:net';
import { Redis } from 'ioredis';

/** What clients sent to a real Redis, as its MONITOR feed shows it (commands scripts ran are left out). */
export interface RedisMonitor {
  /** Every command seen so far, in order, as its arguments (`[name, ...args]`). */
  readonly commands: string[][];
  /**
   * Sends a unique ECHO and resolves with its index in `commands` once the feed has delivered it:
   * everything sent before the call is in `commands` by then (the feed lags the replies).
   */
  mark(label: string): Promise<number>;
  /** A plain connection to the same Redis, for a test's own commands (they show in the feed too). */
  readonly redis: Redis;
  close(): void;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };

/** The quoted arguments of one MONITOR line (`1700000000.123 [0 127.0.0.1:5000] "set" "k" "v"`). */
function monitorArgs(line: string): string[] {
  const args: string[] = [];
  let at = line.indexOf('"');
  while (at >= 0 && at < line.length) {
    let arg = '';
    let i = at + 1;
    for (; i < line.length && line[i] !== '"'; i += 1) {
      if (line[i] !== '\\') {
        arg += line[i];
        continue;
      }
      const next = line[(i += 1)] ?? '';
      if (next === 'x') {
        arg += String.fromCharCode(Number.parseInt(line.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        arg += ESCAPES[next] ?? next;
      }
    }
    args.push(arg);
    at = line.indexOf('"', i + 1);
  }
  return args;
}

/**
 * Watches a real Redis through MONITOR on a socket of its own. Not ioredis's `monitor()`: it
 * enters monitoring mode only after a promise settles, so feed lines that arrive in the same read
 * as MONITOR's `+OK` (a busy Redis) throw "Command queue state error" out of the test.
 */
export async function monitorRedis(url: string): Promise<RedisMonitor> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port || 6379), hostname);
  socket.setEncoding('utf8');
  const commands: string[][] = [];
  let pending = '';
  let started!: () => void;
  let failed!: (error: Error) => void;
  const monitoring = new Promise<void>((resolve, reject) => {
    started = resolve;
    failed = reject;
  });
  socket.once('error', (error) => failed(error));
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf('\r\n')) >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (line === '+OK') started();
      else if (line.startsWith('-')) failed(new Error(`MONITOR refused: ${line.slice(1)}`));
      else if (line.startsWith('+') && !/^\+\S+ \[\d+ lua\]/.test(line)) commands.push(monitorArgs(line));
    }
  });
  socket.write('MONITOR\r\n');
  await monitoring;
  const marker = new Redis(url);
  let marks = 0;
  return {
    commands,
    redis: marker,
    async mark(label) {
      marks += 1;
      const text = `${label} #${marks}`;
      await marker.echo(text);
      const deadline = Date.now() + 5_000;
      for (;;) {
        const index = commands.findIndex((args) => args[0]?.toLowerCase() === 'echo' && args[1] === text);
        if (index >= 0) return index;
        if (Date.now() > deadline) throw new Error(`MONITOR did not deliver the marker "${text}"`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close() {
      socket.destroy();
      marker.disconnect();
    },
  };
}
