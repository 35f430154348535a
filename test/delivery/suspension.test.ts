import { describe, expect, it } from 'vitest';
import { Suspension } from '../../src/delivery/suspension.ts';
import type { GongCallResult } from '../../src/gong/client.ts';

const ok: GongCallResult = { kind: 'response', status: 200, durationMs: 1 };

describe('suspension', () => {
  it('probes with the longest-waiting caller, then the next one after a failed probe', () => {
    const halt = new Suspension('halt', 'credentials', 0, 'started-it');
    void halt.park('a', undefined);
    void halt.park('b', undefined);
    const first = halt.takeProbe();
    expect(first?.body).toBe('a');
    // Out as a probe: not taken twice.
    expect(halt.takeProbe()?.body).toBe('b');
    halt.requeue(first);
    expect(halt.takeProbe()?.body).toBe('a');
  });

  it('without a caller there is no probe body but its own: the body that started it', () => {
    const halt = new Suspension('halt', 'credentials', 0, 'started-it');
    expect(halt.takeProbe()).toBeUndefined();
    expect(halt.body).toBe('started-it');
  });

  it('ends: the probe’s caller gets the answer, the others call again, one still out waits for its own', async () => {
    const outage = new Suspension('outage', 'gong-unavailable', 0, 'x');
    const probed = outage.park('a', undefined);
    const out = outage.park('b', undefined);
    const other = outage.park('c', undefined);
    const probe = outage.takeProbe();
    // 'b' is out as a probe too (another probe loop's, after a transition): left to that loop.
    const elsewhere = outage.takeProbe();
    expect(elsewhere?.body).toBe('b');
    outage.end({ caller: probe, result: ok });
    await expect(probed).resolves.toEqual({ result: ok, judged: true });
    await expect(other).resolves.toBeUndefined();
    let settled = false;
    void out.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    elsewhere?.resume({ result: ok, judged: false });
    await expect(out).resolves.toEqual({ result: ok, judged: false });
    expect(outage.waiting).toBe(0);
  });

  it('an aborted caller leaves the line with its signal’s reason', async () => {
    const halt = new Suspension('halt', 'credentials', 0, 'x');
    const controller = new AbortController();
    const parked = halt.park('a', controller.signal);
    controller.abort(new Error('revoked'));
    await expect(parked).rejects.toThrow('revoked');
    expect(halt.waiting).toBe(0);
    expect(halt.takeProbe()).toBeUndefined();
    await expect(halt.park('b', AbortSignal.abort(new Error('early')))).rejects.toThrow('early');
  });

  it('an outage that turns out to be a halt hands its callers over in order', async () => {
    const outage = new Suspension('outage', 'gong-unavailable', 0, 'x');
    const halt = new Suspension('halt', 'credentials', 5, 'x');
    const a = outage.park('a', undefined);
    const b = outage.park('b', undefined);
    outage.moveTo(halt);
    expect(outage.waiting).toBe(0);
    expect(halt.takeProbe()?.body).toBe('a');
    halt.fail(new Error('closing'));
    await expect(a).rejects.toThrow('closing');
    await expect(b).rejects.toThrow('closing');
  });
});
