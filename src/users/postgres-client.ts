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
  /**
   * Whether postgres.js's own `queue_timeout`/`query_timeout`, from the url or the `PG*`
   * environment, apply (default). The migrator's statements take as long as they take.
   */
  driverTimeouts?: boolean;
}

/** A file the url names that cannot be read: the operator's to fix. Other file system errors (EMFILE, EIO) may pass, and stay as they are. */
const UNREADABLE_FILE = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR']);

/**
 * A postgres.js client for `url`, with the server's notices dropped. postgres.js reads the files
 * the url names (`sslrootcert`, `sslcert`, `sslkey`) and checks its settings as it makes the
 * client: a file it cannot read or a setting it refuses is a configuration mistake, named in one
 * line (start-up exits 2), not an unexpected failure.
 * @throws {ConfigError}
 */
export function postgresClient(url: string, { password, max, connectTimeoutMs, idleTimeoutS, driverTimeouts = true }: PostgresClientOptions): postgres.Sql {
  try {
    return postgres(url, {
      max,
      connect_timeout: connectTimeoutMs / 1000,
      onnotice: () => {},
      ...(password === undefined ? {} : { password }),
      ...(idleTimeoutS === undefined ? {} : { idle_timeout: idleTimeoutS }),
      ...(driverTimeouts ? {} : { queue_timeout: 0, query_timeout: 0 }),
    });
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code !== undefined && !UNREADABLE_FILE.has(code)) throw error;
    throw new ConfigError(`database.url (or the PG* environment): ${error instanceof Error ? error.message : String(error)}`);
  }
}
