import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sleep } from '../../src/shared/time.ts';
import { closeAll, get, manualClock, post, sampleBody, sandbox } from './helpers.ts';

afterEach(closeAll);

async function statuses(target: Awaited<ReturnType<typeof sandbox>>, count: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i += 1) seen.push((await post(target, sampleBody(i))).status);
  return seen;
}

describe('fault injection', () => {
  it('--fail-rate 1 answers a configured 5xx to every call and stores nothing', async () => {
    const s = await sandbox({ faults: { failRate: 1, failStatuses: [502, 503] } });
    const seen = await statuses(s, 20);
    expect(new Set(seen)).toEqual(new Set([502, 503]));
    const reply = await post(s, sampleBody(99));
    expect(reply.body.requestId).toMatch(/^[0-9a-z]{19}$/);
    expect(reply.body.errors).toHaveLength(1);
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({
      accepted: 0,
      counted: 21,
      byOutcome: { 'injected-failure': 21 },
    });
  });

  it('a partial --fail-rate fails some calls, and a retry of a failed event can succeed', async () => {
    const s = await sandbox({ faults: { failRate: 0.5, failStatuses: [500] }, seed: 42 });
    const seen = await statuses(s, 60);
    const failures = seen.filter((status) => status === 500).length;
    expect(failures).toBeGreaterThan(10);
    expect(failures).toBeLessThan(50);
    expect(seen.filter((status) => status === 200).length).toBe(60 - failures);
    const failedIndex = seen.indexOf(500);
    let retried = 0;
    while ((await post(s, sampleBody(failedIndex))).status === 500) retried += 1;
    expect(retried).toBeLessThan(30);
    expect(s.event(`evt-${failedIndex}`)).toBeDefined();
  });

  it('replays the same faults for the same seed and call sequence', async () => {
    const options = { faults: { failRate: 0.3, lostReplyRate: 0.2 }, seed: 7 };
    const first = await statuses(await sandbox(options), 40);
    const second = await statuses(await sandbox(options), 40);
    expect(second).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(2);
  });

  it('a lost reply stores the event and answers 500, so the retry gets 409', async () => {
    const s = await sandbox({ faults: { lostReplyRate: 1 } });
    const lost = await post(s, sampleBody(1));
    expect(lost.status).toBe(500);
    expect(lost.body.errors).toHaveLength(1);
    const retry = await post(s, sampleBody(1));
    expect(retry.status).toBe(409);
    expect(s.event('evt-1')).toMatchObject({ eventId: 'evt-1', conflicts: 1, body: sampleBody(1) });
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({
      accepted: 1,
      byOutcome: { 'lost-reply': 1, duplicate: 1 },
    });
  });

  it('an outage set at run time answers 503 to everyone until it ends, using no quota', async () => {
    const clock = manualClock();
    const s = await sandbox({ clock, rps: 3 });
    const set = await request(`${s.url}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outageMs: 30_000, outageStatus: 503 }),
    });
    expect(set.statusCode).toBe(200);
    expect(await set.body.json()).toMatchObject({ outageStatus: 503, outageRemainingMs: 30_000 });
    for (let i = 0; i < 5; i += 1) {
      const reply = await post(s, sampleBody(1), { authorization: i === 0 ? null : undefined });
      expect(reply.status).toBe(503);
      expect(reply.headers['retry-after']).toBeUndefined();
    }
    clock.advance(29_999);
    expect((await post(s, sampleBody(1))).status).toBe(503);
    clock.advance(1);
    expect((await get(s, '/_sandbox/faults')).body).toMatchObject({
      outageUntil: null,
      outageRemainingMs: 0,
    });
    for (let i = 0; i < 3; i += 1) expect((await post(s, sampleBody(i))).status).toBe(200);
  });

  it('an outage can announce Retry-After and be ended early with outageMs 0', async () => {
    const clock = manualClock();
    const s = await sandbox({
      clock,
      outageMs: 10_000,
      faults: { outageRetryAfter: true, outageStatus: 502 },
    });
    clock.advance(2_500);
    const reply = await post(s, sampleBody(1));
    expect(reply.status).toBe(502);
    expect(reply.headers['retry-after']).toBe('8');
    s.setFaults({ outageMs: 0 });
    expect((await post(s, sampleBody(1))).status).toBe(200);
  });

  it('delays every reply by latency plus jitter, without moving the admission time', async () => {
    const clock = manualClock(0);
    const slept: number[] = [];
    const sleep: Sleep = async (ms) => {
      slept.push(ms);
      clock.advance(ms);
    };
    const s = await sandbox({ clock, sleep, faults: { latencyMs: 50, latencyJitterMs: 20 }, seed: 3 });
    await statuses(s, 10);
    expect(slept).toHaveLength(10);
    for (const ms of slept) {
      expect(ms).toBeGreaterThanOrEqual(50);
      expect(ms).toBeLessThan(70);
    }
    const calls = s.calls();
    // Each call is logged at its arrival, before its own latency.
    expect(calls[1]!.t - calls[0]!.t).toBe(slept[0]);
  });

  it('reset restores the start-up faults', async () => {
    const s = await sandbox({ faults: { latencyMs: 5 } });
    s.setFaults({ failRate: 1, outageMs: 60_000 });
    s.reset();
    expect(s.faults()).toMatchObject({ failRate: 0, latencyMs: 5, outageUntil: null });
  });
});
