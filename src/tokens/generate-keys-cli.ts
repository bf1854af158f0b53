import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KID } from '../config/schema.js';
import { parseCommandLine, UsageError } from '../util/cli-args.js';
import { generateKeyMaterial } from './generate-key.js';

const USAGE = `Usage: npm run keys:generate -- [--alg EdDSA|ES256|HS256] [--kid KID] [--out DIR]

Writes a new signing key for auth.keys: DIR/KID.pem (private, mode 0600) and DIR/KID.pub.pem
(public), or DIR/KID.secret for HS256, and prints the config entry. Never overwrites a key.

Options:
  --alg ALG    EdDSA (default), ES256 or HS256
  --kid KID    the key id (default key-YYYY-MM-DD): A-Z a-z 0-9 . _ - (at most 64)
  --out DIR    where to write (default keys, made with mode 0700)
  -h, --help   show this help`;

function run(argv: string[]): string {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      alg: { type: 'string', default: 'EdDSA' },
      kid: { type: 'string', default: `key-${new Date().toISOString().slice(0, 10)}` },
      out: { type: 'string', default: 'keys' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return USAGE;
  const { alg: algorithm, kid, out } = values;
  if (algorithm !== 'EdDSA' && algorithm !== 'ES256' && algorithm !== 'HS256') throw new UsageError(`--alg must be EdDSA, ES256 or HS256, got ${algorithm}`);
  // The kid names the files too: the config's rule keeps them inside --out.
  if (!KID.test(kid)) throw new UsageError(`--kid may only contain A-Z a-z 0-9 . _ - (at most 64), got "${kid}"`);
  const privatePath = join(out, `${kid}${algorithm === 'HS256' ? '.secret' : '.pem'}`);
  const publicPath = join(out, `${kid}.pub.pem`);
  for (const path of algorithm === 'HS256' ? [privatePath] : [privatePath, publicPath]) {
    if (existsSync(path)) throw new UsageError(`${path} exists already: choose another --kid (keys are never overwritten)`);
  }
  const { privateKey, publicKey } = generateKeyMaterial(algorithm);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  writeFileSync(privatePath, privateKey, { mode: 0o600, flag: 'wx' });
  if (publicKey) writeFileSync(publicPath, publicKey, { flag: 'wx' });
  return `wrote ${privatePath}${publicKey ? ` and ${publicPath}` : ''}
add to config.yml:
auth:
  algorithm: ${algorithm}
  keys:
    - { kid: ${kid}, file: ${privatePath} }`;
}

try {
  console.log(run(process.argv.slice(2)));
} catch (error) {
  // One line, never a stack trace.
  const reason = error instanceof Error ? error.message : String(error);
  process.stderr.write(`keys:generate: ${reason}${error instanceof UsageError ? ' (see --help)' : ''}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
}
