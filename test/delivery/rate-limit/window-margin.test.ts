import { describe, expect, it } from 'vitest';
import { WindowMargin } from '../../../src/delivery/rate-limit/window-margin.ts';

describe('WindowMargin', () => {
  it('keeps the cap until it has seen enough round trips to trust the fastest one', () => {
    const margin = new WindowMargin({ capMs: 50, warmup: 4 });
    expect([20, 20, 20].map((rtt) => margin.observe(rtt))).toEqual([50, 50, 50]);
    expect(margin.observe(20)).toBe(2);
  });

  it('gives each call the floor plus its round trip above the fastest recent one, up to the cap', () => {
    const margin = new WindowMargin({ capMs: 50, warmup: 1, samples: 8 });
    // Steady round trips: no spread, no allowance.
    for (let i = 0; i < 4; i += 1) expect(margin.observe(30)).toBe(2);
    // 12 ms slower than the fastest, plus the allowance for 5 samples with no spread below p90.
    expect(margin.observe(42)).toBe(14);
    expect(margin.observe(400)).toBe(50);
    // A faster call lowers the baseline; the spread up to the 90th percentile (42 - 25 ms over 7
    // samples) is now the allowance.
    expect(margin.observe(25)).toBe(2 + (7 * 17) / 7);
  });

  it('allows more while few round trips are known: the fastest of a few overstates the fastest there is', () => {
    // Round trips spread evenly over 180..220 ms (a 200 +- 20 ms path).
    const spreadOver = (n: number) => Array.from({ length: n }, (_, i) => 180 + (40 * i) / (n - 1));
    const early = new WindowMargin({ capMs: 250, warmup: 1, samples: 256 });
    for (const rtt of spreadOver(20)) early.observe(rtt);
    const late = new WindowMargin({ capMs: 250, warmup: 1, samples: 256 });
    for (const rtt of spreadOver(256)) late.observe(rtt);
    // A call as fast as the fastest so far: after 20 samples it keeps ~12 ms more, after 256 ~1 ms.
    expect(early.observe(180)).toBeGreaterThan(2 + 11);
    expect(late.observe(180)).toBeLessThan(3.1);
    expect(late.observe(180)).toBeGreaterThan(2.9);
  });

  it('forgets a fast round trip once it is older than the samples it looks back on', () => {
    const margin = new WindowMargin({ capMs: 100, warmup: 1, samples: 4 });
    margin.observe(10);
    for (let i = 0; i < 4; i += 1) margin.observe(60);
    expect(margin.observe(70)).toBe(12);
  });

  it('holds an unanswered call with the cap, and reports the average margin of answered ones', () => {
    const margin = new WindowMargin({ capMs: 50, warmup: 1, samples: 4 });
    for (const rtt of [20, 20, 20, 20]) margin.observe(rtt);
    expect(margin.provisionalMs()).toBe(50);
    expect(margin.averageMs()).toBe(2);
  });

  it('never goes above a cap of 0 (no margin at all) and never below 0', () => {
    const margin = new WindowMargin({ capMs: 0, warmup: 1 });
    expect(margin.observe(500)).toBe(0);
    expect(margin.provisionalMs()).toBe(0);
  });
});
