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

export async function monitorRedis(url: string): Promise<RedisMonitor> {
  const monitor = new Redis(url, { lazyConnect: true });
  const marker = new Redis(url, { lazyConnect: true });
  await Promise.all([monitor.connect(), marker.connect()]);
  const commands: string[][] = [];
  const feed = await monitor.monitor();
  feed.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') commands.push(args);
  });
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
      feed.disconnect();
      monitor.disconnect();
      marker.disconnect();
    },
  };
}
