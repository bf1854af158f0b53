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

  it('never holds more than its cap: making room drops the oldest answer still held', () => {
    const answers = createRevocationAnswers(3);
    answers.remember('old', 'j1', 10_000, 0);
    answers.remember('busy', 'j2', 10_000, 0);
    answers.remember('old', 'j3', 10_000, 0);
    answers.remember('new', 'j4', 10_000, 0);
    expect(answers.size).toBe(3);
    expect([answers.until('old', 'j1'), answers.until('busy', 'j2'), answers.until('old', 'j3'), answers.until('new', 'j4')]).toEqual([undefined, 10_000, 10_000, 10_000]);
    // A forgotten answer is passed over: the next room comes from the oldest one still held.
    answers.forget('busy');
    answers.remember('x', 'j5', 10_000, 0);
    answers.remember('y', 'j6', 10_000, 0);
    expect([answers.size, answers.users, answers.until('old', 'j3'), answers.until('new', 'j4')]).toEqual([3, 3, undefined, 10_000]);
    // Remembering a pair again makes no room.
    answers.remember('y', 'j6', 20_000, 0);
    expect([answers.size, answers.until('new', 'j4'), answers.until('y', 'j6')]).toEqual([3, 10_000, 20_000]);
  });

  it('holds what is still valid, not its cap, for many users with one answer each', () => {
    const answers = createRevocationAnswers(100_000);
    // A new user's answer every 10 ms for a minute, each valid 10 s: 1,000 are valid at any time.
    for (let ms = 0; ms < 60_000; ms += 10) answers.remember(`u${ms}`, 'j', ms + 10_000, ms);
    expect([answers.size, answers.users]).toEqual([1_000, 1_000]);
    expect(answers.until('u49990', 'j')).toBeUndefined();
    expect(answers.until('u50000', 'j')).toBe(60_000);
  });

  it('sweeps a busy user’s expired answers as they come to the oldest end, and a backlog at most four a call', () => {
    const answers = createRevocationAnswers(100_000);
    for (let ms = 0; ms < 60_000; ms += 10) answers.remember('busy', `j${ms}`, ms + 10_000, ms);
    expect(answers.size).toBe(1_000);
    answers.remember('other', 'j', 200_000, 100_000);
    expect(answers.size).toBe(1_000 - 4 + 1);
    answers.forget('busy');
    expect(answers.size).toBe(1);
    answers.remember('late', 'j', 200_000, 100_000);
    expect([answers.size, answers.users, answers.until('other', 'j')]).toEqual([2, 2, 200_000]);
  });

  it('keeps no user without answers; forgetting again and again leaves the others alone', () => {
    const answers = createRevocationAnswers(2);
    answers.remember('u1', 'j1', 10, 0);
    answers.remember('u2', 'j2', 5_000, 1_000); // the sweep drops u1's only answer
    expect([answers.size, answers.users]).toEqual([1, 1]);
    for (let i = 0; i < 5_000; i++) {
      answers.remember('u3', `j${i}`, 5_000, 1_000);
      answers.forget('u3');
    }
    expect([answers.size, answers.users, answers.until('u2', 'j2')]).toEqual([1, 1, 5_000]);
    // At the cap with the user's own answer the oldest: it makes room, and the user stays.
    const alone = createRevocationAnswers(1);
    alone.remember('u1', 'j1', 5_000, 0);
    alone.remember('u1', 'j2', 5_000, 0);
    expect([alone.size, alone.users, alone.until('u1', 'j1'), alone.until('u1', 'j2')]).toEqual([1, 1, undefined, 5_000]);
  });

  it('moves an answer remembered again to the newest end', () => {
    const answers = createRevocationAnswers(100);
    answers.remember('u1', 'j1', 100, 0);
    answers.remember('u1', 'j2', 100, 0);
    answers.remember('u1', 'j1', 5_000, 50);
    answers.remember('u2', 'j3', 5_000, 1_000);
    expect([answers.size, answers.until('u1', 'j2'), answers.until('u1', 'j1')]).toEqual([2, undefined, 5_000]);
  });

  it('clear() forgets everything', () => {
    const answers = createRevocationAnswers(10);
    answers.remember('u1', 'j1', 5_000, 0);
    answers.clear();
    // After u1's answer would have expired: nothing of it is left to sweep.
    answers.remember('u2', 'j2', 9_000, 6_000);
    expect([answers.size, answers.users, answers.until('u1', 'j1'), answers.until('u2', 'j2')]).toEqual([1, 1, undefined, 9_000]);
  });
});
