import { describe, expect, it } from 'vitest';
import { parseClusterArgs } from '../../scripts/cluster/args.js';
import { UsageError } from '../../src/util/cli-args.js';

describe('npm run cluster arguments', () => {
  it('passes --revocation exact or cached to the instances, and leaves the service default otherwise', () => {
    expect(parseClusterArgs(['--revocation', 'cached'])?.revocation).toBe('cached');
    expect(parseClusterArgs(['--revocation', 'exact'])?.revocation).toBe('exact');
    expect(parseClusterArgs([])?.revocation).toBeUndefined();
  });

  it('refuses another revocation mode in one line', () => {
    expect(() => parseClusterArgs(['--revocation', 'lazy'])).toThrow(new UsageError('--revocation: expected exact or cached, got "lazy"'));
  });
});
