import postgres from 'postgres';
import { ConfigError } from '../config/loader.js';

export interface PostgresClientOptions {
  /** The password of the url's user, when it is not in the url (`database.password_file`). */
  password?: string | undefined;
  /** Most connections the client keeps open. */
  max: number;
  /** Give up on an unreachable server after this long. */
  connectTimeoutMs: number;
  /** Seconds an idle connection is kept open (postgres.js's default: for ever). */
  idleTimeoutS?: number;
}

/**
 * A postgres.js client for `url`, with the server's notices dropped. postgres.js reads the files
 * the url names (`sslrootcert`, `sslcert`, `sslkey`) as it makes the client: one it cannot read is
 * a configuration mistake, named in one line (start-up exits 2), not an unexpected failure.
 * @throws {ConfigError}
 */
export function postgresClient(url: string, { password, max, connectTimeoutMs, idleTimeoutS }: PostgresClientOptions): postgres.Sql {
  try {
    return postgres(url, {
      max,
      connect_timeout: connectTimeoutMs / 1000,
      onnotice: () => {},
      ...(password === undefined ? {} : { password }),
      ...(idleTimeoutS === undefined ? {} : { idle_timeout: idleTimeoutS }),
    });
  } catch (error) {
    throw new ConfigError(`database.url: ${error instanceof Error ? error.message : String(error)}`);
  }
}
