import { describe, expect, it } from 'vitest';
import { DailyBudget, DAY_MS, type Instant } from '../../../src/delivery/rate-limit/daily-budget.ts';

const MIDNIGHT = Date.UTC(2026, 10, 25);

function at(mono: number, wall: number): Instant {
  return { mono, wall };
}

describe('DailyBudget rolling', () => {
  it('refuses the call past the limit and frees it 24 h after the end of its minute', () => {
    const budget = new DailyBudget({ limit: 3, window: 'rolling', at: at(0, MIDNIGHT) });
    budget.record(at(10_000, MIDNIGHT + 10_000));
    budget.record(at(70_000, MIDNIGHT + 70_000));
    budget.record(at(70_500, MIDNIGHT + 70_500));
    expect(budget.remaining(at(80_000, 0))).toBe(0);
    // The first call sat in minute 0; it counts until minute 1 ends, plus 24 h.
    expect(budget.waitMs(at(80_000, 0))).toBe(60_000 + DAY_MS - 80_000);
    expect(budget.remaining(at(60_000 + DAY_MS, 0))).toBe(1);
    expect(budget.remaining(at(120_000 + DAY_MS, 0))).toBe(3);
  });

  it('never counts fewer calls than a true rolling 24 h window would', () => {
    const budget = new DailyBudget({ limit: 100, window: 'rolling', at: at(0, 0) });
    budget.record(at(59_999, 0));
    // A true rolling window would release it at 59_999 + 24 h; the bucket holds it a bit longer.
    expect(budget.used(at(59_999 + DAY_MS, 0))).toBe(1);
    expect(budget.used(at(60_000 + DAY_MS, 0))).toBe(0);
  });

  it('ignores wall-clock steps: the window is measured on the monotonic clock', () => {
    const budget = new DailyBudget({ limit: 1, window: 'rolling', at: at(0, MIDNIGHT) });
    budget.record(at(0, MIDNIGHT));
    expect(budget.remaining(at(1_000, MIDNIGHT + 3 * DAY_MS))).toBe(0);
  });

  it('keeps at most one bucket per minute of the last 24 h, however long it runs', () => {
    const budget = new DailyBudget({ limit: 1_000_000, window: 'rolling', at: at(0, 0) });
    for (let t = 0; t < 3 * DAY_MS; t += 20_000) budget.record(at(t, t));
    expect(budget.used(at(3 * DAY_MS, 0))).toBeLessThanOrEqual(1_441 * 3);
    // 3 calls a minute for the 1,440 (and a bit) minutes still in the window.
    expect(budget.used(at(3 * DAY_MS, 0))).toBe(1_441 * 3 - 3);
  });
});

describe('DailyBudget utc-day', () => {
  it('resets at UTC midnight', () => {
    const start = MIDNIGHT - 3_600_000;
    const budget = new DailyBudget({ limit: 2, window: 'utc-day', at: at(0, start) });
    budget.record(at(0, start));
    budget.record(at(1, start + 1));
    expect(budget.waitMs(at(1_000, start + 1_000))).toBe(3_600_000 - 1_000);
    expect(budget.nextReleaseAt(at(1_000, start + 1_000))).toBe(MIDNIGHT);
    expect(budget.remaining(at(3_600_000, MIDNIGHT))).toBe(2);
  });

  it('does not reset early when the wall clock jumps forward past midnight', () => {
    const start = MIDNIGHT - 3_600_000;
    const budget = new DailyBudget({ limit: 1, window: 'utc-day', at: at(0, start) });
    budget.record(at(0, start));
    expect(budget.remaining(at(1_000, MIDNIGHT + 5_000))).toBe(0);
  });

  it('does not reset twice when the wall clock steps back across midnight', () => {
    const start = MIDNIGHT - 1_000;
    const budget = new DailyBudget({ limit: 1, window: 'utc-day', at: at(0, start) });
    budget.record(at(0, start));
    // Real midnight passes: a new day, one call.
    budget.record(at(1_000, MIDNIGHT));
    // The wall clock is stepped back an hour; the "previous" midnight comes round again on the wall.
    const later = at(2 * 3_600_000, MIDNIGHT + 3_600_000 - 3_600_000);
    expect(budget.remaining(later)).toBe(0);
    expect(budget.waitMs(later)).toBeGreaterThan(20 * 3_600_000);
  });

  it('starts charged with calls the cluster had already spent', () => {
    const budget = new DailyBudget({ limit: 10, window: 'utc-day', at: at(0, MIDNIGHT), alreadyUsed: 7 });
    expect(budget.remaining(at(0, MIDNIGHT))).toBe(3);
  });
});
