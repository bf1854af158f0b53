import { describe, expect, it } from 'vitest';
import { createRevocationAnswers } from '../../src/sessions/revocation-answers.js';

describe('revocation answers (cached mode)', () => {
  it('remembers until when each pair may be answered, and forgets all of a user at once', () => {
    const answers = createRevocationAnswers(10);
    answers.remember('u1', 'j1', 500, 0);
    answers.remember('u1', 'j2', 600, 0);
    answers.remember('u2', 'j3', 700, 0);
    expect([answers.until('u1', 'j1'), answers.until('u1', 'j2'), answers.until('u2', 'j3'), answers.until('u2', 'j1')]).toEqual([500, 600, 700, undefined]);
    expect(answers.size).toBe(3);
    answers.remember('u1', 'j1', 800, 0);
    expect([answers.until('u1', 'j1'), answers.size]).toEqual([800, 3]);
    answers.forget('u1');
    expect([answers.until('u1', 'j1'), answers.until('u1', 'j2'), answers.until('u2', 'j3'), answers.size]).toEqual([undefined, undefined, 700, 1]);
    answers.clear();
    expect([answers.until('u2', 'j3'), answers.size]).toEqual([undefined, 0]);
  });

  it('never holds more than its cap: making room drops every answer of the user whose latest answer is the oldest', () => {
    const answers = createRevocationAnswers(3);
    answers.remember('old', 'j1', 10_000, 0);
    answers.remember('busy', 'j2', 10_000, 0);
    answers.remember('old', 'j3', 10_000, 0);
    // 'old' was first remembered, but 'busy' has the oldest latest answer.
    answers.remember('new', 'j4', 10_000, 0);
    expect(answers.size).toBe(3);
    expect([answers.until('busy', 'j2'), answers.until('old', 'j1'), answers.until('old', 'j3'), answers.until('new', 'j4')]).toEqual([undefined, 10_000, 10_000, 10_000]);
    answers.remember('new', 'j5', 10_000, 0);
    expect(answers.size).toBe(2);
    expect(answers.until('old', 'j1')).toBeUndefined();
  });

  it('holds what is still valid, not its cap, for many users with one answer each (swept once a second)', () => {
    const answers = createRevocationAnswers(100_000);
    // A new user's answer every 10 ms for a minute, each valid 10 s: 1,000 are valid at any time,
    // and up to a second's more wait for the next sweep (the last at 59 s).
    for (let ms = 0; ms < 60_000; ms += 10) answers.remember(`u${ms}`, 'j', ms + 10_000, ms);
    expect([answers.size, answers.users]).toEqual([1_099, 1_099]);
    expect(answers.until('u49000', 'j')).toBeUndefined();
    expect(answers.until('u49010', 'j')).toBe(59_010);
  });

  it('sweeps a busy user’s own expired answers however recent its latest, and a backlog at most four a call since the last sweep', () => {
    const answers = createRevocationAnswers(100_000);
    // A user whose answer never expires stays first: the sweep of everyone stops there at once.
    answers.remember('quiet', 'j', Number.MAX_SAFE_INTEGER, 0);
    for (let ms = 0; ms < 60_000; ms += 10) answers.remember('busy', `j${ms}`, ms + 10_000, ms);
    expect(answers.size).toBe(1 + 1_000);
    answers.forget('quiet');
    answers.remember('other', 'j', 200_000, 100_000); // 100 calls since the last sweep (at 59 s)
    expect(answers.size).toBe(1_000 - 400 + 1);
    answers.forget('busy');
    answers.remember('late', 'j', 200_000, 100_000);
    expect([answers.size, answers.until('other', 'j')]).toEqual([2, 200_000]);
  });

  it('keeps no user without answers, so making room always frees one', () => {
    const answers = createRevocationAnswers(2);
    answers.remember('u1', 'j1', 10, 0);
    answers.remember('u2', 'j2', 5_000, 1_000); // the sweep empties u1
    expect([answers.size, answers.users]).toEqual([1, 1]);
    answers.remember('u3', 'j3', 5_000, 1_000);
    answers.remember('u4', 'j4', 5_000, 1_000);
    expect([answers.size, answers.users, answers.until('u2', 'j2'), answers.until('u4', 'j4')]).toEqual([2, 2, undefined, 5_000]);
    // At the cap with no other user: the user's own answers make room.
    const alone = createRevocationAnswers(1);
    alone.remember('u1', 'j1', 5_000, 0);
    alone.remember('u1', 'j2', 5_000, 0);
    expect([alone.size, alone.until('u1', 'j1'), alone.until('u1', 'j2')]).toEqual([1, undefined, 5_000]);
  });

  it('moves an answer remembered again to its user’s newest end, in expiry order', () => {
    const answers = createRevocationAnswers(100);
    answers.remember('u1', 'j1', 100, 0);
    answers.remember('u1', 'j2', 100, 0);
    answers.remember('u1', 'j1', 5_000, 50);
    answers.remember('u2', 'j3', 5_000, 1_000);
    expect([answers.size, answers.until('u1', 'j2'), answers.until('u1', 'j1')]).toEqual([2, undefined, 5_000]);
  });
});
