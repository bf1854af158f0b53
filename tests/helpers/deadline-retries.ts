/**
 * Options for tests that must act before a real deadline (a session or a window must still be
 * alive when the test looks). A stall of a loaded machine, or the wall clock stepped forward under
 * Redis (its expiry follows the wall clock; the test's sleeps do not), fails one attempt; a wrong
 * expiry fails every attempt.
 */
export const DEADLINE_RETRIES = { retry: 2 } as const;
