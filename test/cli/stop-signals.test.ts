import { describe, expect, it } from 'vitest';
import { sameRequestMs, stopSignalPolicy } from '../../src/cli/stop-signals.ts';

describe('stop signals', () => {
  it('the first stops, repeats within the window are the same request, a later one exits at once', () => {
    let now = 1_000;
    const decide = stopSignalPolicy(() => now);
    expect(decide()).toBe('stop');
    now += 5; // the wrapper's SIGTERM right after the terminal's SIGINT
    expect(decide()).toBe('same-request');
    now += sameRequestMs - 10; // still within the window of the first
    expect(decide()).toBe('same-request');
    now += 5;
    expect(decide()).toBe('exit-now');
  });

  it('measures the window from the first signal, so a stream of repeats cannot postpone a forced exit', () => {
    let now = 0;
    const decide = stopSignalPolicy(() => now, 3_000);
    expect(decide()).toBe('stop');
    for (const at of [1_000, 2_000, 2_999]) {
      now = at;
      expect(decide()).toBe('same-request');
    }
    now = 3_000;
    expect(decide()).toBe('exit-now');
  });
});
