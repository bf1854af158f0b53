import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyMaterial } from './generate-key.js';

const { values } = parseArgs({
  options: {
    alg: { type: 'string', default: 'EdDSA' },
    kid: { type: 'string', default: `key-${new Date().toISOString().slice(0, 10)}` },
    out: { type: 'string', default: 'keys' },
  },
});
const algorithm = values.alg;
if (algorithm !== 'EdDSA' && algorithm !== 'ES256' && algorithm !== 'HS256') {
  console.error(`--alg must be EdDSA, ES256 or HS256, got ${algorithm}`);
  process.exit(2);
}
const { privateKey, publicKey } = generateKeyMaterial(algorithm);
mkdirSync(values.out, { recursive: true, mode: 0o700 });
const privatePath = join(values.out, `${values.kid}${algorithm === 'HS256' ? '.secret' : '.pem'}`);
writeFileSync(privatePath, privateKey, { mode: 0o600, flag: 'wx' });
if (publicKey) writeFileSync(join(values.out, `${values.kid}.pub.pem`), publicKey, { flag: 'wx' });
console.log(`wrote ${privatePath}${publicKey ? ` and ${values.kid}.pub.pem` : ''}
add to config.yml:
auth:
  algorithm: ${algorithm}
  keys:
    - { kid: ${values.kid}, file: ${privatePath} }`);
