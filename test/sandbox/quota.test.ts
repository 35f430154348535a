import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY_MS, RollingLimit, SandboxQuota } from '../../src/sandbox/quota.ts';

describe('RollingLimit', () => {
  it('never admits more than the limit in any rolling window, whatever the arrival times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 }),
        (limit, gaps) => {
          const window = new RollingLimit(limit, 1000);
          const admitted: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            if (window.waitMs(now) === 0) {
              window.record(now);
              admitted.push(now);
            }
          }
          for (let i = limit; i < admitted.length; i += 1) {
            // The call `limit` places earlier must lie a full window back.
            expect(admitted[i]! - admitted[i - limit]!).toBeGreaterThanOrEqual(1000);
          }
        },
      ),
    );
  });

  it('admits again exactly when the blocking call leaves the window, as waitMs promised', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 3, maxLength: 3 }), (offsets) => {
        const window = new RollingLimit(3, 1000);
        const times = [...offsets].sort((a, b) => a - b);
        for (const t of times) window.record(t);
        const now = times[2]!;
        const wait = window.waitMs(now);
        expect(wait).toBe(times[0]! + 1000 - now);
        expect(window.waitMs(now + wait - 1)).toBeGreaterThan(0);
        expect(window.waitMs(now + wait)).toBe(0);
      }),
    );
  });

  it('with limit 0 admits everything and keeps nothing', () => {
    const window = new RollingLimit(0, 1000);
    for (let i = 0; i < 10_000; i += 1) window.record(0);
    expect(window.waitMs(0)).toBe(0);
    expect(window.count(0)).toBe(0);
  });
});

describe('SandboxQuota', () => {
  it('reports the daily wait, not the rate wait, when both limits bind', () => {
    const quota = new SandboxQuota({ rps: 1, daily: 2 });
    expect(quota.tryAdmit(0).admitted).toBe(true);
    expect(quota.tryAdmit(1000).admitted).toBe(true);
    expect(quota.tryAdmit(1500)).toEqual({ admitted: false, reason: 'daily', retryAfterMs: DAY_MS - 1500 });
    expect(quota.snapshot(1500)).toEqual({
      rps: 1,
      daily: 2,
      inLastSecond: 1,
      inLast24h: 2,
      dailyRemaining: 0,
    });
  });

  it('does not count refused calls, so prompt retries do not extend the throttle', () => {
    const quota = new SandboxQuota({ rps: 1, daily: 0 });
    expect(quota.tryAdmit(0).admitted).toBe(true);
    for (let t = 100; t < 1000; t += 100) expect(quota.tryAdmit(t).admitted).toBe(false);
    expect(quota.tryAdmit(1000).admitted).toBe(true);
  });
});
