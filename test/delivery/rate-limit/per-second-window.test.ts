import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PerSecondWindow, windowPolicy } from '../../../src/delivery/rate-limit/per-second-window.ts';
import { isBridgeError } from '../../../src/errors.ts';
import { maxInWindow } from '../../helpers/rolling-window.ts';

/** Greedy client: starts a call whenever the window allows, and returns the start times. */
function greedyStarts(window: PerSecondWindow, from: number, until: number): number[] {
  const starts: number[] = [];
  let now = from;
  while (now < until) {
    const wait = window.waitMs(now);
    if (wait === 0) {
      window.record(now);
      starts.push(now);
    } else {
      now += wait;
    }
  }
  return starts;
}

describe('windowPolicy', () => {
  it('defaults burst to floor(rate) and clamps a larger burst to it', () => {
    expect(windowPolicy({ ratePerSecond: 3 })).toMatchObject({ capacity: 3, burst: 3, windowMs: 1000 });
    expect(windowPolicy({ ratePerSecond: 3, burst: 10 }).burst).toBe(3);
    expect(windowPolicy({ ratePerSecond: 0.5 })).toMatchObject({ capacity: 1, burst: 1, emissionMs: 2000 });
    expect(windowPolicy({ ratePerSecond: 5 / 3 }).capacity).toBe(1);
  });

  it('rejects a rate that is not positive and a burst below 1, as configuration errors', () => {
    for (const bad of [
      () => windowPolicy({ ratePerSecond: 0 }),
      () => windowPolicy({ ratePerSecond: 3, burst: 0 }),
    ]) {
      try {
        bad();
        expect.unreachable();
      } catch (error) {
        expect(isBridgeError(error) && error.code).toBe('CONFIG_INVALID');
      }
    }
  });
});

describe('PerSecondWindow', () => {
  it('admits a full second back to back, then the next call exactly when the oldest leaves the window', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 3 }));
    for (let i = 0; i < 3; i += 1) {
      expect(window.waitMs(0)).toBe(0);
      window.record(0);
    }
    expect(window.waitMs(0)).toBe(1000);
    expect(window.waitMs(999.5)).toBeCloseTo(0.5);
    expect(window.waitMs(1000)).toBe(0);
  });

  it('never admits 2R around a window edge (the fixed-window / token-bucket failure)', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 3 }));
    // Idle first, then calls bunched at the end of one second and the start of the next.
    const starts = greedyStarts(window, 999, 3_000);
    expect(maxInWindow(starts)).toBe(3);
    expect(starts.slice(0, 6)).toEqual([999, 999, 999, 1999, 1999, 1999]);
  });

  it('spaces calls by 1000 / rate with burst 1', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 4, burst: 1 }));
    const starts = greedyStarts(window, 0, 2_000);
    expect(starts).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750]);
  });

  it('runs a rate below 1/s: 0.5/s is one call every 2 s', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 0.5 }));
    expect(greedyStarts(window, 0, 10_000)).toEqual([0, 2000, 4000, 6000, 8000]);
  });

  it('holds a fractional rate above 1/s to floor(rate) per rolling second', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 5 / 3 }));
    const starts = greedyStarts(window, 0, 10_000);
    expect(maxInWindow(starts)).toBe(1);
    expect(starts).toHaveLength(10);
  });

  it('widens the window by the margin', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 2, windowMarginMs: 5 }));
    expect(greedyStarts(window, 0, 2_100)).toEqual([0, 0, 1005, 1005, 2010, 2010]);
  });

  it('keeps at most `capacity` timestamps however many calls it has seen', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 50 }));
    greedyStarts(window, 0, 60_000);
    expect(window.available(60_000)).toBeLessThanOrEqual(50);
  });

  it('only makes callers wait longer if the monotonic clock goes backwards (a broken clock)', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 2 }));
    window.record(5_000);
    window.record(5_000);
    expect(window.waitMs(4_000)).toBe(2_000);
  });

  it('reports how many calls could start now', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 3 }));
    expect(window.available(0)).toBe(3);
    window.record(0);
    window.record(100);
    expect(window.available(200)).toBe(1);
    expect(window.available(1000)).toBe(2);
    expect(window.available(1100)).toBe(3);
  });
});

describe('PerSecondWindow pacing on real timers', () => {
  it('keeps the schedule when a paced start comes a timer tick late, so the rate is not lost', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 500, burst: 1 }));
    // Every start lands 1 ms after it was allowed, as a 1 ms-granular timer would.
    let now = 0;
    const starts: number[] = [];
    while (now < 1_000) {
      now += window.waitMs(now) + (starts.length === 0 ? 0 : 1);
      if (window.waitMs(now) > 0) continue;
      window.record(now);
      starts.push(now);
    }
    expect(starts.length).toBeGreaterThanOrEqual(495);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(500);
  });

  it('does not bank a long idle gap as extra burst', () => {
    const window = new PerSecondWindow(windowPolicy({ ratePerSecond: 4, burst: 1 }));
    window.record(0);
    window.record(5_000);
    expect(window.waitMs(5_000)).toBe(250);
  });
});

describe('PerSecondWindow.restamp (a call counted from when it went on the wire)', () => {
  const policy = (ratePerSecond: number) => windowPolicy({ ratePerSecond });

  it('holds the next start back until a window after the moment the calls left', () => {
    const window = new PerSecondWindow(policy(3));
    const handles = [window.record(0), window.record(0), window.record(0)];
    // Cold connections: the burst took 90 ms to reach the wire.
    for (const handle of handles) window.restamp(handle, 90);
    expect(window.waitMs(1000)).toBe(90);
    expect(window.waitMs(1090)).toBe(0);
  });

  it('replaces the earliest start, not the oldest grant, once starts are out of order', () => {
    const window = new PerSecondWindow(policy(2));
    const slow = window.record(0);
    window.record(0);
    window.restamp(slow, 500);
    expect(window.waitMs(1000)).toBe(0);
    window.record(1000);
    // The start left in the log is the slow one (500), so the next opens at 1500, not 2000.
    expect(window.waitMs(1000)).toBe(500);
  });

  it('never moves a start earlier', () => {
    const window = new PerSecondWindow(policy(1));
    const handle = window.record(100);
    window.restamp(handle, 50);
    expect(window.waitMs(100)).toBe(1000);
  });

  it('ignores a start that a newer one already replaced', () => {
    const window = new PerSecondWindow(policy(1));
    const first = window.record(0);
    window.record(1000);
    window.restamp(first, 1010);
    expect(window.waitMs(1000)).toBe(1000);
  });

  it('keeps every rolling second of wire times within the rate when calls leave up to 900 ms late', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 40, maxLength: 40 }),
        (rate, delays) => {
          const window = new PerSecondWindow(policy(rate));
          const pending: { at: number; handle: number }[] = [];
          const wire: number[] = [];
          let now = 0;
          let next = 0;
          while (next < delays.length || pending.length > 0) {
            pending.sort((a, b) => a.at - b.at);
            const due = pending[0];
            const wait = next < delays.length ? window.waitMs(now) : Number.POSITIVE_INFINITY;
            if (due !== undefined && due.at <= now + wait) {
              // A call reaches the wire before (or as) the next slot opens.
              now = Math.max(now, due.at);
              pending.shift();
              window.restamp(due.handle, now);
              wire.push(now);
            } else if (wait === 0) {
              pending.push({ at: now + delays[next]!, handle: window.record(now) });
              next += 1;
            } else {
              now += wait;
            }
          }
          return maxInWindow(wire) <= Math.floor(rate);
        },
      ),
      { numRuns: 300 },
    );
  });
});
