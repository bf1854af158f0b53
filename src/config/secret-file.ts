import { readFileSync } from 'node:fs';
import { ConfigError } from './loader.js';

/**
 * The secret held in `file` (a mounted Docker or Kubernetes secret), surrounding whitespace
 * removed, as `*_file` keys give them.
 * @throws {ConfigError} naming `key` and the file, never its content, when it cannot be read or is empty
 */
export function readSecretFile(key: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const secret = text.trim();
  if (secret === '') throw new ConfigError(`${key}: ${file} is empty`);
  return secret;
}
