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
    margin.observe(30);
    expect(margin.observe(30.5)).toBe(2.5);
    expect(margin.observe(42)).toBe(14);
    expect(margin.observe(400)).toBe(50);
    // A faster call lowers the baseline for the ones after it.
    expect(margin.observe(25)).toBe(2);
    expect(margin.observe(42)).toBe(19);
  });

  it('forgets a fast round trip once it is older than the samples it looks back on', () => {
    const margin = new WindowMargin({ capMs: 100, warmup: 1, samples: 4 });
    margin.observe(10);
    for (let i = 0; i < 4; i += 1) margin.observe(60);
    expect(margin.observe(70)).toBe(12);
  });

  it('holds an unanswered call with the cap, and reports the average margin of answered ones', () => {
    const margin = new WindowMargin({ capMs: 50, warmup: 1, samples: 4 });
    for (const rtt of [20, 20, 28, 20]) margin.observe(rtt);
    expect(margin.provisionalMs()).toBe(50);
    expect(margin.averageMs()).toBeCloseTo((2 + 2 + 10 + 2) / 4);
  });

  it('never goes above a cap of 0 (no margin at all) and never below 0', () => {
    const margin = new WindowMargin({ capMs: 0, warmup: 1 });
    expect(margin.observe(500)).toBe(0);
    expect(margin.provisionalMs()).toBe(0);
  });
});
