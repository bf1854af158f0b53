import { describe, expect, it } from 'vitest';
import { durationMs } from '../../k6/lib/duration.js';

/** The k6 scripts' setup refuses a DURATION that outlasts the access tokens it got: it must read k6's durations. */
describe('k6 durationMs', () => {
  it.each([
    ['90s', 90_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1h2m3s', 3_723_000],
    ['500ms', 500],
    ['1.5m', 90_000],
    ['1d', 86_400_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
  ])('%s is %i ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it.each(['', '10', 'soon', '1m junk', '5 m', '-1m'])('refuses %j', (text) => {
    expect(() => durationMs(text)).toThrow(`not a duration: ${text}`);
  });
});
