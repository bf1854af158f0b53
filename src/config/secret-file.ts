import { readFileSync } from 'node:fs';
import { ConfigError } from './loader.js';

/**
 * The text of `file` for the config key `key`. Errors name the key, never the path: a secret
 * written where its file's path belongs (`file: ${JWT_KEY}`) must not end up on stderr.
 * @throws {ConfigError} when it cannot be read
 */
export function readKeyFile(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const hint = code === 'ENOENT' || code === 'ENAMETOOLONG' ? ': it must be the path of a file holding the secret, not the secret itself' : '';
    throw new ConfigError(`${key}: cannot read the file it names (${code})${hint}`);
  }
}

/**
 * The secret held in `file` (a mounted Docker or Kubernetes secret), surrounding whitespace
 * removed, as `*_file` keys give them.
 * @throws {ConfigError} naming `key`, never the file's path or content, when it cannot be read or is empty
 */
export function readSecretFile(key: string, file: string): string {
  const secret = readKeyFile(key, file).trim();
  if (secret === '') throw new ConfigError(`${key}: the file it names is empty`);
  return secret;
}
