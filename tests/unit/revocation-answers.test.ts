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

  it('holds what is still valid, not its cap, for many users with one answer each', () => {
    const answers = createRevocationAnswers(100_000);
    // A new user's answer every 10 ms for a minute, each valid 10 s: 1,000 are valid at any time.
    for (let ms = 0; ms < 60_000; ms += 10) answers.remember(`u${ms}`, 'j', ms + 10_000, ms);
    expect(answers.size).toBe(1_000);
    expect(answers.until('u49990', 'j')).toBeUndefined();
    expect(answers.until('u50000', 'j')).toBe(60_000);
  });

  it('sweeps a busy user answer by answer, and a backlog at most four a call, never a valid answer', () => {
    const answers = createRevocationAnswers(100_000);
    for (let ms = 0; ms < 60_000; ms += 10) answers.remember('busy', `j${ms}`, ms + 10_000, ms);
    expect(answers.size).toBe(1_000);
    answers.remember('other', 'j', 200_000, 100_000);
    expect(answers.size).toBe(1_000 - 4 + 1);
    answers.forget('busy');
    answers.remember('late', 'j', 200_000, 100_000);
    expect([answers.size, answers.until('other', 'j')]).toEqual([2, 200_000]);
  });
});
