import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  defaultRetryPolicy,
  isRetryAlertDue,
  outageProbeDelay,
  parseRetryAfter,
  retryPolicyFromConfig,
  throttleDelay,
} from '../../src/delivery/retry-policy.ts';

const policy = { ...defaultRetryPolicy, baseMs: 100, maxMs: 1_000 };

describe('backoffDelay', () => {
  it('the ceiling doubles per failure and stops at the cap', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 50, 10_000].map((n) => backoffDelay(policy, n, top))).toEqual([
      99, 199, 399, 799, 999, 999, 999, 999,
    ]);
  });

  it('full jitter: zero at random 0, never negative, never above the ceiling', () => {
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    for (let failures = 1; failures < 20; failures += 1) {
      for (const r of [0, 0.1, 0.5, 0.9, 0.999]) {
        const delay = backoffDelay(policy, failures, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(1_000, 100 * 2 ** (failures - 1)));
      }
    }
  });

  it('jitter spreads retries of records that failed together', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const delays = Array.from({ length: 200 }, () => backoffDelay(policy, 5, random));
    expect(new Set(delays).size).toBeGreaterThan(150);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(350);
    expect(mean).toBeLessThan(650);
  });

  it('a broken random source cannot produce a negative or NaN delay', () => {
    expect(backoffDelay(policy, 2, () => Number.NaN)).toBe(0);
    expect(backoffDelay(policy, 2, () => -1)).toBe(0);
    expect(backoffDelay(policy, 2, () => 7)).toBe(200);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-24T10:00:00Z');
  it.each([
    ['2', 2_000],
    [' 0 ', 0],
    ['120', 120_000],
    ['1.5', 1_500],
  ])('delta-seconds %j is %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it('an HTTP-date is measured from now, and a past date means now', () => {
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });

  it.each([undefined, '', 'soon', '-5'])('%j is unreadable', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['3', '9'], now)).toBe(3_000);
  });
});

describe('throttleDelay', () => {
  it('obeys Retry-After, defaults without one and caps absurd values', () => {
    expect(throttleDelay(defaultRetryPolicy, 2_000)).toBe(2_000);
    expect(throttleDelay(defaultRetryPolicy, undefined)).toBe(defaultRetryPolicy.retryAfterDefaultMs);
    expect(throttleDelay(defaultRetryPolicy, 86_400_000)).toBe(defaultRetryPolicy.retryAfterCapMs);
  });
});

describe('retry alert', () => {
  it('fires on attempts or age, whichever comes first; retries have no limit', () => {
    const p = { ...defaultRetryPolicy, alertAttempts: 5, alertAfterMs: 10_000 };
    expect(isRetryAlertDue(p, 4, 9_999)).toBe(false);
    expect(isRetryAlertDue(p, 5, 0)).toBe(true);
    expect(isRetryAlertDue(p, 1, 10_000)).toBe(true);
    expect(Object.keys(p)).not.toContain('maxAttempts');
  });

  it('reads its numbers from the configuration', () => {
    const p = retryPolicyFromConfig({
      GONG_RETRY_BASE_MS: 50,
      GONG_RETRY_MAX_MS: 20,
      GONG_RETRY_ALERT_ATTEMPTS: 3,
      GONG_RETRY_ALERT_AFTER_MS: 1_000,
      GONG_OUTAGE_PROBE_MAX_MS: 5_000,
    });
    expect(p).toMatchObject({
      baseMs: 50,
      maxMs: 50,
      alertAttempts: 3,
      alertAfterMs: 1_000,
      outageProbeMaxMs: 5_000,
    });
  });
});

describe('outage probes', () => {
  const p = { ...defaultRetryPolicy, baseMs: 500, outageProbeMaxMs: 10_000 };

  it('double from the base up to the cap, never less than half the step', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => outageProbeDelay(p, n, () => 0))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
    expect([0, 1, 5].map((n) => outageProbeDelay(p, n, () => 0.999999))).toEqual([499, 999, 9_999]);
  });

  it('a broken random source still gives a sane wait', () => {
    expect(outageProbeDelay(p, 0, () => Number.NaN)).toBe(250);
    expect(outageProbeDelay(p, 0, () => 7)).toBe(500);
  });
});
