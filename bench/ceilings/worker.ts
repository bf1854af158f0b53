/**
 * A ceiling: what one pinned core does with no HTTP, no Redis, nothing else. Run as
 * `worker.ts '<job json>'`; prints one JSON line `{ perSecond, concurrency }`.
 */
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hash, verify as argon2Verify } from '@node-rs/argon2';
import { argon2Options, defaultHashConcurrency } from '../../src/passwords/hasher.js';
import { benchSigner } from '../signer.js';
import type { CeilingJob } from './jobs.js';

function loopFor(ms: number, step: () => void): number {
  step();
  let count = 0;
  const started = performance.now();
  const deadline = started + ms;
  // Check the clock every 64 operations: reading it costs as much as a tiny step.
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i++) step();
    count += 64;
  }
  return (count * 1000) / (performance.now() - started);
}

async function verifyRate(job: Extract<CeilingJob, { kind: 'verify' }>): Promise<number> {
  const key = createPublicKey(createPrivateKey(readFileSync(job.keyFile, 'utf8')));
  const lastDot = job.token.lastIndexOf('.');
  const signingInput = Buffer.from(job.token.slice(0, lastDot));
  const signature = Buffer.from(job.token.slice(lastDot + 1), 'base64url');
  return loopFor(job.ms, () => {
    if (!verify(null, signingInput, key, signature)) throw new Error('the sample token does not verify');
  });
}

async function signRate(job: Extract<CeilingJob, { kind: 'sign' }>): Promise<number> {
  const tokens = await benchSigner(job);
  return loopFor(job.ms, () => tokens.sign(job.claims));
}

/** As the service's hasher: `defaultHashConcurrency()` verifies at once, here on the pinned core. */
async function argon2Rate(job: Extract<CeilingJob, { kind: 'argon2' }>): Promise<{ perSecond: number; concurrency: number }> {
  const concurrency = defaultHashConcurrency();
  const password = 'bench password that is long enough';
  const passwordHash = await hash(password, argon2Options);
  await argon2Verify(passwordHash, password);
  let count = 0;
  const started = performance.now();
  const deadline = started + job.ms;
  const lane = async () => {
    while (performance.now() < deadline) {
      if (!(await argon2Verify(passwordHash, password))) throw new Error('argon2 verify failed');
      count += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { perSecond: (count * 1000) / (performance.now() - started), concurrency };
}

async function run(job: CeilingJob): Promise<{ perSecond: number; concurrency: number }> {
  if (job.kind === 'verify') return { perSecond: await verifyRate(job), concurrency: 1 };
  if (job.kind === 'sign') return { perSecond: await signRate(job), concurrency: 1 };
  return argon2Rate(job);
}

const job = JSON.parse(process.argv[2] ?? '{}') as CeilingJob;
process.stdout.write(`${JSON.stringify(await run(job))}\n`);
