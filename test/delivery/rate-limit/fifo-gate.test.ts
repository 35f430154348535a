import { describe, expect, it } from 'vitest';
import type { CallSlot } from '../../../src/delivery/limiter-types.ts';
import { FifoGate } from '../../../src/delivery/rate-limit/fifo-gate.ts';
import type { Decision } from '../../../src/delivery/rate-limit/limiter-core.ts';
import { ManualClock, settle } from '../../helpers/manual-clock.ts';

describe('FifoGate', () => {
  it('hands back a grant decided after its only caller left, instead of dropping it', async () => {
    const clock = new ManualClock();
    let released = 0;
    const slot: CallSlot = { onWire: () => undefined, release: () => (released += 1) };
    let answer: (decision: Decision) => void = () => undefined;
    const gate = new FifoGate({
      // A Redis round trip: the decision arrives later.
      attempt: () => new Promise<Decision>((resolve) => (answer = resolve)),
      sleep: clock.sleep,
      now: () => clock.now(),
    });
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal).catch(() => 'aborted');
    await settle();
    controller.abort();
    expect(await waiting).toBe('aborted');
    answer({ allow: true, slot });
    await settle();
    expect(released).toBe(1);
  });
});
