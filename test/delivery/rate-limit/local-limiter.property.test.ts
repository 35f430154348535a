import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalLimiter } from '../../../src/delivery/rate-limit/local-limiter.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { maxInWindow } from '../../helpers/rolling-window.ts';

const DAY = 86_400_000;

interface Arrival {
  readonly delayMs: number;
  /** Abort this caller this long after it arrived, if set. */
  readonly abortAfterMs: number | null;
  /** Report a 429 with this Retry-After when this caller is granted, if set. */
  readonly throttleMs: number | null;
}

const arrival = fc.record({
  delayMs: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 50 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * DAY }) },
  ),
  abortAfterMs: fc.option(fc.integer({ min: 0, max: 3_000 }), { freq: 5 }),
  throttleMs: fc.option(fc.integer({ min: 0, max: 5_000 }), { freq: 10 }),
});

/** Drives a limiter through the arrivals on a manual clock; returns the grant times (monotonic). */
async function run(
  options: {
    rate: number;
    burst?: number | undefined;
    dailyLimit: number;
    dailyWindow: 'rolling' | 'utc-day';
  },
  arrivals: readonly Arrival[],
  wallSteps: readonly number[] = [],
  grantsWall: number[] = [],
): Promise<number[]> {
  const clock = new ManualClock({ mono: 0 });
  const limiter = new LocalLimiter({
    ratePerSecond: options.rate,
    burst: options.burst,
    dailyLimit: options.dailyLimit,
    dailyWindow: options.dailyWindow,
    clock,
    sleep: clock.sleep,
  });
  const grants: number[] = [];
  const pending: Promise<unknown>[] = [];
  for (const [i, a] of arrivals.entries()) {
    await clock.advance(a.delayMs);
    // Wall-clock steps in both directions must never matter.
    const step = wallSteps[i % Math.max(1, wallSteps.length)];
    if (step !== undefined) clock.stepWall(step);
    const controller = new AbortController();
    if (a.abortAfterMs !== null) {
      const abortAt = a.abortAfterMs;
      void clock.sleep(abortAt).then(() => controller.abort());
    }
    pending.push(
      limiter.acquire(controller.signal).then(
        () => {
          grants.push(clock.now());
          grantsWall.push(clock.wallNow());
          if (a.throttleMs !== null) limiter.onThrottled(a.throttleMs);
        },
        () => undefined,
      ),
    );
  }
  // Let everything still queued drain, however long the daily budget makes it wait.
  for (let i = 0; i < 10 && grants.length < arrivals.length; i += 1) await clock.advance(2 * DAY);
  await limiter.close();
  await Promise.all(pending);
  return grants;
}

describe('LocalLimiter properties', () => {
  it('never lets more than floor(R) calls start in any rolling second, nor the daily limit in any rolling 24 h', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 2, 3, 5, 10, 0.5, 0.25, 5 / 3, 2.5),
        fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(arrival, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: -2 * DAY, max: 2 * DAY }), { maxLength: 5 }),
        async (rate, burst, dailyLimit, arrivals, wallSteps) => {
          const grants = await run({ rate, burst, dailyLimit, dailyWindow: 'rolling' }, arrivals, wallSteps);
          expect(maxInWindow(grants, 1000)).toBeLessThanOrEqual(Math.max(1, Math.floor(rate)));
          expect(maxInWindow(grants, DAY)).toBeLessThanOrEqual(dailyLimit);
          if (rate < 1) {
            for (let i = 1; i < grants.length; i += 1) {
              expect(grants[i]! - grants[i - 1]!).toBeGreaterThanOrEqual(1000 / rate - 1e-6);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never exceeds a utc-day budget in a UTC day', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.array(arrival, { minLength: 1, maxLength: 60 }),
        async (dailyLimit, arrivals) => {
          const grantsWall: number[] = [];
          const grants = await run(
            { rate: 10, dailyLimit, dailyWindow: 'utc-day' },
            arrivals,
            [],
            grantsWall,
          );
          const perDay = new Map<number, number>();
          for (const wall of grantsWall)
            perDay.set(Math.floor(wall / DAY), (perDay.get(Math.floor(wall / DAY)) ?? 0) + 1);
          for (const count of perDay.values()) expect(count).toBeLessThanOrEqual(dailyLimit);
          expect(maxInWindow(grants, 1000)).toBeLessThanOrEqual(10);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never makes a utc-day shorter than 24 h when the wall clock steps back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.array(arrival, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: -2 * DAY, max: 0 }), { minLength: 1, maxLength: 5 }),
        async (dailyLimit, arrivals, wallSteps) => {
          const grants = await run({ rate: 10, dailyLimit, dailyWindow: 'utc-day' }, arrivals, wallSteps);
          // Any 24 h of real time overlaps at most two days, each with one budget.
          expect(maxInWindow(grants, DAY)).toBeLessThanOrEqual(2 * dailyLimit);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('grants each caller exactly when its slot opens: FIFO, no over-sleeping, no slot left unused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 60 }),
        async (rate, delays) => {
          const arrivals = delays.map((delayMs) => ({ delayMs, abortAfterMs: null, throttleMs: null }));
          const grants = await run({ rate, dailyLimit: 1_000_000, dailyWindow: 'rolling' }, arrivals);
          // The ideal strict FIFO schedule: start at arrival, unless the previous caller has not
          // started yet or the call `rate` places back started less than a second ago.
          const expected: number[] = [];
          let t = 0;
          for (const [k, delay] of delays.entries()) {
            t += delay;
            const previous = expected[k - 1] ?? Number.NEGATIVE_INFINITY;
            const windowFree = (expected[k - rate] ?? Number.NEGATIVE_INFINITY) + 1000;
            expected.push(Math.max(t, previous, windowFree));
          }
          expect(grants).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
