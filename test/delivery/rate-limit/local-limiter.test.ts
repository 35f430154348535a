import { describe, expect, it } from 'vitest';
import type { LimiterEventMap } from '../../../src/delivery/limiter-types.ts';
import { LocalLimiter, type LocalLimiterOptions } from '../../../src/delivery/rate-limit/local-limiter.ts';
import { isBridgeError } from '../../../src/errors.ts';
import { ManualClock, settle } from '../../helpers/manual-clock.ts';

function limiter(clock: ManualClock, overrides: Partial<LocalLimiterOptions> = {}): LocalLimiter {
  return new LocalLimiter({
    ratePerSecond: 3,
    dailyLimit: 10_000,
    dailyWindow: 'rolling',
    clock,
    sleep: clock.sleep,
    ...overrides,
  });
}

/** Starts `n` acquires and records when (monotonic) each one resolves, in resolution order. */
function startMany(clock: ManualClock, l: LocalLimiter, n: number, signal?: AbortSignal) {
  const granted: { id: number; at: number }[] = [];
  const settled = Array.from({ length: n }, (_, id) =>
    l.acquire(signal).then(
      () => {
        granted.push({ id, at: clock.now() });
      },
      (error: unknown) => error,
    ),
  );
  return { granted, settled };
}

describe('LocalLimiter', () => {
  it('grants a full second at once, then each next call exactly when a slot opens', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock);
    const { granted } = startMany(clock, l, 7);
    await clock.advance(0);
    expect(granted.map((g) => g.at)).toEqual([0, 0, 0]);
    // The queue sleeps exactly until the oldest start leaves the window: no over-sleeping.
    expect(clock.sleeps).toEqual([1000]);
    await clock.advance(1000);
    expect(granted.map((g) => g.at)).toEqual([0, 0, 0, 1000, 1000, 1000]);
    await clock.advance(1000);
    expect(granted).toHaveLength(7);
    expect(granted.at(-1)?.at).toBe(2000);
  });

  it('counts a call from when it went on the wire, once, when that is later than its grant', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock);
    const slots = await Promise.all([l.acquire(), l.acquire(), l.acquire()]);
    // The burst opened cold connections and left 90 ms after its grant.
    await clock.advance(90);
    for (const slot of slots) slot.onWire();
    const { granted } = startMany(clock, l, 1);
    await clock.advance(910);
    expect(granted).toEqual([]);
    // A repeated report (undici re-sending on another connection) moves nothing further.
    await clock.advance(10);
    for (const slot of slots) slot.onWire();
    await clock.advance(80);
    expect(granted).toEqual([{ id: 0, at: 1090 }]);
  });

  it('serves callers in arrival order (FIFO)', async () => {
    const clock = new ManualClock();
    const l = limiter(clock, { ratePerSecond: 1 });
    const { granted } = startMany(clock, l, 5);
    await clock.advance(10_000);
    expect(granted.map((g) => g.id)).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects an aborted caller at once and gives its slot to the next one', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 1 });
    await l.acquire();
    const controller = new AbortController();
    const first = l.acquire(controller.signal);
    const second = l.acquire();
    let secondAt = -1;
    void second.then(() => (secondAt = clock.now()));
    await clock.advance(300);
    controller.abort(new Error('shutdown'));
    await expect(first).rejects.toThrow('shutdown');
    await clock.advance(700);
    expect(secondAt).toBe(1000);
  });

  it('rejects an already aborted signal without taking a slot', async () => {
    const clock = new ManualClock();
    const l = limiter(clock, { ratePerSecond: 1 });
    await expect(l.acquire(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect(l.snapshot().tokensAvailable).toBe(1);
  });

  it('stops sleeping once every waiter has aborted', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 1 });
    await l.acquire();
    const controller = new AbortController();
    const waiting = l.acquire(controller.signal).catch(() => 'aborted');
    await clock.advance(10);
    expect(clock.pendingTimers).toBe(1);
    controller.abort();
    expect(await waiting).toBe('aborted');
    await settle();
    expect(clock.pendingTimers).toBe(0);
  });

  it('pauses every caller on a 429 until Retry-After has passed, and reports it', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock);
    const events: LimiterEventMap['throttled'][] = [];
    l.on('throttled', (e) => events.push(e));
    await l.acquire();
    l.onThrottled(5_000);
    expect(l.snapshot()).toMatchObject({
      pauseReason: 'throttled',
      pausedUntil: clock.wallNow() + 5_000,
      tokensAvailable: 0,
    });
    const { granted } = startMany(clock, l, 3);
    await clock.advance(4_999);
    expect(granted).toHaveLength(0);
    await clock.advance(1);
    expect(granted.map((g) => g.at)).toEqual([5_000, 5_000, 5_000]);
    expect(events).toEqual([{ retryAfterMs: 5_000, until: clock.wallNow() }]);
  });

  it('does not let a shorter Retry-After cut a longer pause short', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock);
    l.onThrottled(5_000);
    l.onThrottled(1_000);
    const { granted } = startMany(clock, l, 1);
    await clock.advance(4_000);
    expect(granted).toHaveLength(0);
    await clock.advance(1_000);
    expect(granted).toHaveLength(1);
  });

  it('makes calls wait when the daily budget is spent and says until when', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 100, dailyLimit: 5 });
    const exhausted: LimiterEventMap['quota-exhausted'][] = [];
    l.on('quota-exhausted', (e) => exhausted.push(e));
    const { granted } = startMany(clock, l, 6);
    await clock.advance(60_000);
    expect(granted).toHaveLength(5);
    const snap = l.snapshot();
    expect(snap).toMatchObject({ dailyRemaining: 0, pauseReason: 'quota-exhausted', tokensAvailable: 0 });
    // All five started in minute 0, which leaves the rolling window 24 h after minute 0 ends.
    const release = clock.wallNow() - 60_000 + 60_000 + 86_400_000;
    expect(snap.pausedUntil).toBe(release);
    expect(exhausted).toEqual([{ until: release, dailyLimit: 5 }]);
    await clock.advance(86_400_000);
    expect(granted).toHaveLength(6);
  });

  it('reports the current rate, the remaining budget and when it runs out at that rate', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 2, dailyLimit: 1_000 });
    const { settled } = startMany(clock, l, 200);
    await clock.advance(100_000);
    await Promise.all(settled);
    const snap = l.snapshot();
    expect(snap.dailyRemaining).toBe(800);
    expect(snap.currentRatePerSecond).toBeCloseTo(2, 1);
    // 800 calls at ~2/s is ~400 s away.
    expect((snap.projectedExhaustionAt ?? 0) - clock.wallNow()).toBeGreaterThan(390_000);
    expect((snap.projectedExhaustionAt ?? 0) - clock.wallNow()).toBeLessThan(410_000);
  });

  it('is not fooled by wall-clock jumps: the per-second rule runs on the monotonic clock', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock);
    const { granted } = startMany(clock, l, 6);
    await clock.advance(0);
    clock.stepWall(+3_600_000);
    await clock.advance(500);
    clock.stepWall(-7_200_000);
    await clock.advance(499);
    expect(granted).toHaveLength(3);
    await clock.advance(1);
    expect(granted).toHaveLength(6);
  });

  it('only waits longer, never admits more, if a broken monotonic clock goes backwards', async () => {
    const clock = new ManualClock({ mono: 10_000 });
    const l = limiter(clock);
    const { granted } = startMany(clock, l, 6);
    await clock.advance(0);
    expect(granted).toHaveLength(3);
    clock.mono -= 5_000;
    await clock.advance(999);
    expect(granted).toHaveLength(3);
    await clock.advance(5_001);
    expect(granted).toHaveLength(6);
  });

  it('emits a wait event with the exact wait for the head of the queue', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 1 });
    const waits: LimiterEventMap['wait'][] = [];
    l.on('wait', (e) => waits.push(e));
    startMany(clock, l, 2);
    await clock.advance(0);
    expect(waits).toEqual([{ waitMs: 1000, reason: 'rate' }]);
  });

  it('reports each grant with the moment it was counted and how long the caller queued', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 1 });
    const acquired: LimiterEventMap['acquired'][] = [];
    l.on('acquired', (e) => acquired.push(e));
    startMany(clock, l, 2);
    await clock.advance(1_000);
    expect(acquired).toEqual([
      { waitedMs: 0, grantedAt: 0, serverTimeMs: null },
      { waitedMs: 1_000, grantedAt: 1_000, serverTimeMs: null },
    ]);
  });

  it('rejects waiting and later callers with SHUTTING_DOWN after close', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 1 });
    await l.acquire();
    const waiting = l.acquire();
    await l.close();
    for (const p of [waiting, l.acquire()]) {
      const error = await p.catch((e: unknown) => e);
      expect(isBridgeError(error) && error.code).toBe('SHUTTING_DOWN');
    }
  });
});

describe('LocalLimiter refunds (issue 14 §2)', () => {
  it('a slot released without going on the wire gives its second and its daily charge back at once', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { dailyLimit: 10 });
    const refunded: LimiterEventMap['refunded'][] = [];
    l.on('refunded', (e) => refunded.push(e));
    const slots = await Promise.all([l.acquire(), l.acquire(), l.acquire()]);
    const { granted } = startMany(clock, l, 1);
    await clock.advance(100);
    expect(granted).toEqual([]);
    expect(l.snapshot()).toMatchObject({ dailyRemaining: 7, tokensAvailable: 0 });
    // The connection was refused: the waiting caller gets that slot now, not 900 ms later.
    slots[0]!.release();
    await clock.advance(0);
    expect(granted).toEqual([{ id: 0, at: 100 }]);
    expect(l.snapshot().dailyRemaining).toBe(7);
    expect(refunded).toEqual([{ grantedAt: 0, grantedWallAt: clock.wallNow() - 100 }]);
    // Released again, or released after the call went out: nothing more comes back.
    slots[0]!.release();
    slots[1]!.onWire();
    slots[1]!.release();
    expect(l.snapshot().dailyRemaining).toBe(7);
  });

  it('hands back the pacing of the latest start, and leaves an earlier one woven into the schedule', async () => {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { ratePerSecond: 4, burst: 1 });
    const first = await l.acquire();
    // The latest grant goes back: the next call may start at once, not 250 ms later.
    first.release();
    const { granted } = startMany(clock, l, 2);
    await clock.advance(0);
    expect(granted.map((g) => g.at)).toEqual([0]);
    await clock.advance(250);
    expect(granted.map((g) => g.at)).toEqual([0, 250]);
    // Handing back the earlier of two grants frees its slot in the log but keeps the pacing.
    const [a] = await Promise.all([l.acquire(), clock.advance(250)]);
    const late = startMany(clock, l, 1);
    a.release();
    await clock.advance(0);
    expect(late.granted).toEqual([{ id: 0, at: 500 }]);
  });

  it('takes a utc-day charge back only on the day it was made', async () => {
    const midnight = Date.UTC(2026, 10, 25);
    const clock = new ManualClock({ mono: 0, wall: midnight - 1_000 });
    const l = limiter(clock, { dailyLimit: 5, dailyWindow: 'utc-day' });
    const yesterday = await l.acquire();
    const today = await l.acquire();
    today.release();
    expect(l.snapshot().dailyRemaining).toBe(4);
    await clock.advance(2_000);
    await l.acquire();
    yesterday.release();
    expect(l.snapshot().dailyRemaining).toBe(4);
  });

  it('restores what an earlier process spent in the rolling day, on the wall clock', () => {
    const clock = new ManualClock({ mono: 5_000 });
    const l = limiter(clock, { dailyLimit: 100 });
    const now = clock.wallNow();
    const minute = (ago: number) => Math.floor((now - ago) / 60_000) * 60_000;
    const restored = l.restoreSpent([
      { minuteStart: minute(3_600_000), count: 30 },
      { minuteStart: minute(86_400_000 + 120_000), count: 50 },
    ]);
    // The second minute ended more than 24 h ago: it no longer counts.
    expect(restored).toBe(30);
    expect(l.snapshot().dailyRemaining).toBe(70);
  });
});

describe('LocalLimiter margins sized from round trips (issue 14 §6)', () => {
  /** Runs `n` calls that each leave at once and are answered `roundTripMs` later. */
  async function answered(
    clock: ManualClock,
    l: LocalLimiter,
    n: number,
    roundTripMs: (i: number) => number,
  ) {
    for (let i = 0; i < n; i += 1) {
      const slot = await l.acquire();
      slot.onWire();
      const rtt = roundTripMs(i);
      void clock.sleep(rtt).then(() => slot.release());
    }
  }

  /** A limiter with a 50 ms cap that has seen `n` calls answered after `roundTripMs`. */
  async function warmed(n: number, roundTripMs: (i: number) => number) {
    const clock = new ManualClock({ mono: 0 });
    const l = limiter(clock, { windowMarginMs: 50 });
    const warm = answered(clock, l, n, roundTripMs);
    await clock.advance(n * 600);
    await warm;
    return { clock, l };
  }

  it('a call answered as fast as the fastest keeps only the 2 ms floor, not GONG_RATE_MARGIN_MS', async () => {
    // Warm up: 30 calls with steady 20 ms round trips.
    const { clock, l } = await warmed(30, () => 20);
    const start = clock.now();
    const starts: number[] = [];
    l.on('acquired', (e) => starts.push(e.grantedAt - start));
    const next = answered(clock, l, 6, () => 20);
    await clock.advance(2_000);
    await next;
    // 2 ms of margin where a fixed GONG_RATE_MARGIN_MS would have spaced them 1,050 ms apart.
    expect(starts).toEqual([0, 0, 0, 1_002, 1_002, 1_002]);
  });

  it('settles each answered call to wire time + its own excess round trip, up to the cap', async () => {
    const { clock, l } = await warmed(30, () => 20);
    const t0 = clock.now();
    const slots = await Promise.all([l.acquire(), l.acquire(), l.acquire()]);
    for (const slot of slots) slot.onWire();
    const { granted } = startMany(clock, l, 3);
    // Answers after 20 ms (no excess), 32 ms (12 ms held up) and 500 ms (capped at 50).
    await clock.advance(20);
    slots[0]!.release();
    await clock.advance(12);
    slots[1]!.release();
    await clock.advance(468);
    slots[2]!.release();
    await clock.advance(1_000);
    expect(granted.map((g) => g.at - t0)).toEqual([1_002, 1_014, 1_050]);
  });

  it('holds a call whose answer is not back with the whole margin: a slow answer may be a slow arrival', async () => {
    // Round trips of 20 ms: every answered call needs 2 ms.
    const { clock, l } = await warmed(30, () => 20);
    const t0 = clock.now();
    const slots = await Promise.all([l.acquire(), l.acquire(), l.acquire()]);
    for (const slot of slots) slot.onWire();
    const { granted } = startMany(clock, l, 3);
    // Two answers come back; the third does not within the second.
    await clock.advance(20);
    slots[1]!.release();
    slots[2]!.release();
    await clock.advance(2_000);
    expect(granted.map((g) => g.at - t0)).toEqual([1_002, 1_002, 1_050]);
  });
});
