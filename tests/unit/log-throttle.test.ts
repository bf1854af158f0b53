import { describe, expect, it } from 'vitest';
import { createLogThrottle } from '../../src/observability/log-throttle.js';

describe('log throttle', () => {
  it('writes the first line, holds the rest of the interval back, then writes with the count held', () => {
    let clock = 1_000;
    const throttle = createLogThrottle(1_000, () => clock);
    const written: number[] = [];
    const log = () => throttle((suppressed) => written.push(suppressed));
    log();
    for (let i = 0; i < 5; i += 1) log();
    expect(written).toEqual([0]);
    clock += 999;
    log();
    expect(written).toEqual([0]);
    clock += 1;
    log();
    expect(written).toEqual([0, 6]);
    clock += 5_000;
    log();
    expect(written).toEqual([0, 6, 0]);
  });
});
