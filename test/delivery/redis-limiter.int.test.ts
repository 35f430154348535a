import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { RedisLimiter, type RedisLimiterOptions } from '../../src/delivery/rate-limit/redis-limiter.ts';
import { defaultRetryPolicy } from '../../src/delivery/retry-policy.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { freePort, spawnRedis, withRedis } from '../helpers/redis.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';
import { tcpFaultProxy } from '../helpers/toxiproxy.ts';
import { sampleBody } from './helpers.ts';

const limiters: RedisLimiter[] = [];

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
});

function limiter(url: string, prefix: string, overrides: Partial<RedisLimiterOptions> = {}): RedisLimiter {
  const l = new RedisLimiter({
    redisUrl: url,
    keyPrefix: prefix,
    ratePerSecond: 5,
    dailyLimit: 100_000,
    dailyWindow: 'rolling',
    expectedReplicas: 3,
    clock: systemClock,
    sleep: systemSleep,
    probeIntervalMs: 200,
    ...overrides,
  });
  limiters.push(l);
  return l;
}

interface Start {
  readonly replica: number;
  /** Local monotonic ms (one process, so one clock for all three replicas). */
  readonly local: number;
  readonly server: number | null;
}

/** Keeps `workers` callers per replica acquiring back to back until `signal` aborts. */
function drive(
  replicas: readonly RedisLimiter[],
  workers: number,
  signal: AbortSignal,
): { starts: Start[]; done: Promise<void> } {
  const starts: Start[] = [];
  replicas.forEach((l, replica) =>
    l.on('acquired', (e) => starts.push({ replica, local: e.grantedAt, server: e.serverTimeMs })),
  );
  const loops = replicas.flatMap((l) =>
    Array.from({ length: workers }, async () => {
      while (!signal.aborted) await l.acquire(signal).catch(() => undefined);
    }),
  );
  return { starts, done: Promise.all(loops).then(() => undefined) };
}

describe('RedisLimiter with a real Redis', () => {
  it('holds three replicas to 5 calls in any rolling second together, at close to 5/s', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const replicas = [limiter(url, prefix), limiter(url, prefix), limiter(url, prefix)];
      const controller = new AbortController();
      const { starts, done } = drive(replicas, 3, controller.signal);
      const seconds = 10;
      await delay(seconds * 1000);
      controller.abort();
      await done;
      const server = starts.map((s) => s.server);
      expect(server.every((t) => t !== null)).toBe(true);
      const times = server as number[];
      expect(maxInWindow(times, 1000)).toBe(5);
      // A burst of 5 at t=0, then 5 every second: 5 * (seconds + 1) at most.
      expect(times.length).toBeGreaterThanOrEqual(5 * seconds * 0.95);
      expect(times.length).toBeLessThanOrEqual(5 * (seconds + 1));
      // All three replicas got a share.
      expect(new Set(starts.map((s) => s.replica)).size).toBe(3);
      for (const l of replicas) expect(l.snapshot().mode).toBe('redis');
    });
  });

  it('a rolling deploy that lowers the rate: never over the old rate, then the new one once the old pods are gone', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const oldPod = limiter(url, prefix, { ratePerSecond: 5 });
      const newPod = limiter(url, prefix, { ratePerSecond: 3 });
      const oldRun = new AbortController();
      const newRun = new AbortController();
      const old = drive([oldPod], 2, oldRun.signal);
      const fresh = drive([newPod], 2, newRun.signal);
      await delay(3_000);
      oldRun.abort();
      await old.done;
      const oldGoneAt = Math.max(...old.starts.map((s) => s.server!));
      await delay(3_000);
      newRun.abort();
      await fresh.done;

      const all = [...old.starts, ...fresh.starts].map((s) => s.server!);
      expect(maxInWindow(all, 1000)).toBeLessThanOrEqual(5);
      // The new pod alone never starts a call while 3 or more are in the window, whoever made them.
      for (const start of fresh.starts.map((s) => s.server!)) {
        const before = all.filter((t) => t < start && t > start - 1000).length;
        expect(before).toBeLessThan(3);
      }
      const afterOld = fresh.starts.map((s) => s.server!).filter((t) => t > oldGoneAt + 1000);
      expect(maxInWindow(afterOld, 1000)).toBeLessThanOrEqual(3);
      expect(afterOld.length).toBeGreaterThanOrEqual(4);
    });
  });

  it('spreads a 429 pause to every replica', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const [a, b] = [limiter(url, prefix), limiter(url, prefix)];
      await a.acquire();
      a.onThrottled(1_500);
      await delay(50);
      const started = performance.now();
      await b.acquire();
      expect(performance.now() - started).toBeGreaterThan(1_300);
    });
  });

  it('counts a call from when it went on the wire, for every replica', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const [a, b] = [limiter(url, prefix, { ratePerSecond: 2 }), limiter(url, prefix, { ratePerSecond: 2 })];
      const grants: number[] = [];
      a.on('acquired', (e) => grants.push(e.serverTimeMs!));
      b.on('acquired', (e) => grants.push(e.serverTimeMs!));
      const slots = [await a.acquire(), await a.acquire()];
      // Both calls waited 300 ms for a connection before they left.
      await delay(300);
      for (const slot of slots) slot.onWire();
      await delay(50);
      const redis = new Redis(url);
      const log = await redis
        .zrange(`{${prefix}}:limiter:log`, '0', '-1', 'WITHSCORES')
        .finally(() => redis.quit());
      const wiredAt = Math.min(Number(log[1]), Number(log[3]));
      expect(wiredAt - grants[1]!).toBeGreaterThanOrEqual(290);
      await b.acquire();
      // The other replica waits a full window from the moment the calls left, on Redis time.
      expect(grants[2]! - wiredAt).toBeGreaterThanOrEqual(1000);
    });
  });

  it('makes calls wait when the shared daily budget is spent, and reports it', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const [a, b] = [limiter(url, prefix, { dailyLimit: 4 }), limiter(url, prefix, { dailyLimit: 4 })];
      const exhausted: number[] = [];
      b.on('quota-exhausted', (e) => exhausted.push(e.until));
      await Promise.all([a.acquire(), a.acquire(), b.acquire(), b.acquire()]);
      const controller = new AbortController();
      const waiting = b.acquire(controller.signal).catch((e: unknown) => e);
      await delay(200);
      expect(exhausted).toHaveLength(1);
      expect(exhausted[0]! - Date.now()).toBeGreaterThan(86_000_000);
      expect(b.snapshot()).toMatchObject({ dailyRemaining: 0, pauseReason: 'quota-exhausted' });
      controller.abort(new Error('stop'));
      expect(await waiting).toBeInstanceOf(Error);
    });
  });

  it('counts a utc-day budget on Redis time and holds calls until the next UTC midnight', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(url, prefix, { dailyLimit: 2, dailyWindow: 'utc-day' });
      await l.acquire();
      await l.acquire();
      const exhausted: number[] = [];
      l.on('quota-exhausted', (e) => exhausted.push(e.until));
      const controller = new AbortController();
      const waiting = l.acquire(controller.signal).catch(() => 'aborted');
      await delay(200);
      const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
      expect(Math.abs(exhausted[0]! - midnight)).toBeLessThan(1_000);
      expect(Math.abs(l.snapshot().pausedUntil! - midnight)).toBeLessThan(1_000);
      controller.abort();
      expect(await waiting).toBe('aborted');
    });
  });

  it('absorbs Redis TIME stepping back: the virtual clock carries on, nothing stalls or reopens', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(url, prefix, { ratePerSecond: 2 });
      await l.acquire();
      await l.acquire();
      // Rewrite history as if Redis's clock had been 5 s ahead for those two starts and has now
      // stepped back: the log and the virtual clock are 5 s ahead of TIME.
      const admin = new Redis(url);
      try {
        const state = `{${prefix}}:limiter:state`;
        const log = `{${prefix}}:limiter:log`;
        const last = Number(await admin.hget(state, 'last'));
        await admin.hset(state, 'last', (last + 5_000).toFixed(3));
        const entries = await admin.zrange(log, '0', '-1', 'WITHSCORES');
        for (let i = 0; i < entries.length; i += 2) {
          await admin.zadd(log, (Number(entries[i + 1]) + 5_000).toFixed(3), entries[i]!);
        }
        // The two starts still fill the window: the third call waits about a second (not 0, as a
        // reopened window would allow, and not 5 s, as a frozen clock would).
        const started = performance.now();
        await l.acquire();
        const waited = performance.now() - started;
        expect(waited).toBeGreaterThan(900);
        expect(waited).toBeLessThan(1_500);
        expect(Number(await admin.hget(state, 'offset'))).toBeGreaterThan(4_000);
      } finally {
        admin.disconnect();
      }
    });
  });

  it('falls back to rate / replicas when Redis dies, and returns to Redis when it is back', async () => {
    const redis = await spawnRedis();
    try {
      const prefix = `it-${randomUUID()}`;
      // A jitter margin, because this test counts on local grant times across all modes.
      const replicas = [0, 1, 2].map(() => limiter(redis.url, prefix, { windowMarginMs: 25 }));
      const events: string[] = [];
      replicas.forEach((l, i) => {
        l.on('fallback', (e) => events.push(`fallback:${i}:${e.ratePerSecond.toFixed(2)}`));
        l.on('recovered', () => events.push(`recovered:${i}`));
      });
      const controller = new AbortController();
      const { starts, done } = drive(replicas, 2, controller.signal);
      await delay(2_000);

      await redis.kill();
      const killedAt = performance.now();
      await delay(3_000);
      expect(replicas.map((l) => l.snapshot().mode)).toEqual([
        'local-fallback',
        'local-fallback',
        'local-fallback',
      ]);
      expect(events.filter((e) => e.startsWith('fallback')).sort()).toEqual([
        'fallback:0:1.67',
        'fallback:1:1.67',
        'fallback:2:1.67',
      ]);

      await redis.start();
      const restartedAt = performance.now();
      await delay(3_000);
      controller.abort();
      await done;

      expect(events.filter((e) => e.startsWith('recovered')).sort()).toEqual([
        'recovered:0',
        'recovered:1',
        'recovered:2',
      ]);
      expect(replicas.map((l) => l.snapshot().mode)).toEqual(['redis', 'redis', 'redis']);
      const local = starts.map((s) => s.local);
      expect(maxInWindow(local, 1000)).toBeLessThanOrEqual(5);
      // While cut off each replica ran on its own at floor(5 / 3) = 1 call a second.
      const during = starts.filter((s) => s.local > killedAt + 1_100 && s.local < restartedAt);
      for (const replica of [0, 1, 2]) {
        const mine = during.filter((s) => s.replica === replica).map((s) => s.local);
        expect(mine.length).toBeGreaterThanOrEqual(1);
        expect(maxInWindow(mine, 1000)).toBe(1);
      }
      // And back on Redis they share the full 5/s again.
      const after = starts.filter((s) => s.local > restartedAt + 1_500).map((s) => s.local);
      expect(after.length).toBeGreaterThanOrEqual(5);
    } finally {
      await redis.stop();
    }
  });

  it('a 429 taken while Redis was away reaches the other replicas once it is back', async () => {
    const redis = await spawnRedis();
    try {
      const prefix = `it-${randomUUID()}`;
      const [a, b] = [limiter(redis.url, prefix), limiter(redis.url, prefix)];
      await a.acquire();
      await b.acquire();
      await redis.kill();
      await a.acquire();
      expect(a.snapshot().mode).toBe('local-fallback');
      a.onThrottled(4_000);
      const throttledAt = performance.now();
      const recovered = new Promise<void>((resolve) => a.on('recovered', () => resolve()));
      await redis.start();
      await recovered;
      await delay(100);
      await b.acquire();
      // b never saw the 429 itself: only Redis could have held it until a's pause ran out.
      expect(performance.now() - throttledAt).toBeGreaterThan(3_800);
    } finally {
      await redis.stop();
    }
  });

  it('does not stall calls when Redis is unreachable from the start: falls back within the connect timeout', async () => {
    const port = await freePort();
    const l = limiter(`redis://127.0.0.1:${port}`, `it-${randomUUID()}`, { connectTimeoutMs: 300 });
    const fallbacks: string[] = [];
    l.on('fallback', (e) => fallbacks.push(e.error));
    const started = performance.now();
    await l.acquire();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(l.snapshot()).toMatchObject({ mode: 'local-fallback', ratePerSecond: 5 / 3 });
    expect(fallbacks).toHaveLength(1);
  });

  it('paces a cluster-wide burst of 1 at 1000 / rate ms on Redis time', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const replicas = [
        limiter(url, prefix, { ratePerSecond: 10, burst: 1 }),
        limiter(url, prefix, { ratePerSecond: 10, burst: 1 }),
      ];
      const controller = new AbortController();
      const { starts, done } = drive(replicas, 2, controller.signal);
      await delay(2_000);
      controller.abort();
      await done;
      const times = starts.map((s) => s.server ?? 0).sort((a, b) => a - b);
      for (let i = 1; i < times.length; i += 1)
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100 - 2.001);
      expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(10);
      expect(times.length).toBeGreaterThanOrEqual(18);
    });
  });

  it('charges the calls made in fallback to the shared daily count on recovery', async () => {
    const redis = await spawnRedis();
    try {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(redis.url, prefix, { expectedReplicas: 1 });
      await l.acquire();
      await redis.kill();
      await l.acquire();
      await l.acquire();
      expect(l.snapshot().mode).toBe('local-fallback');
      await redis.start();
      const recovered = new Promise<void>((resolve) => l.on('recovered', () => resolve()));
      await recovered;
      const check = new Redis(redis.url);
      try {
        // The restarted Redis is empty: the two fallback calls are all it knows of.
        expect(await check.hget(`{${prefix}}:limiter:state`, 'total')).toBe('2');
      } finally {
        check.disconnect();
      }
    } finally {
      await redis.stop();
    }
  });
});

describe('RedisLimiter refunds (issue 14 §2)', () => {
  it('attempts refused at the TCP level are handed back to the shared log and daily count', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(url, prefix, { ratePerSecond: 50, dailyLimit: 1_000 });
      const port = await freePort();
      const client = createGongClient({
        baseUrl: `http://127.0.0.1:${port}`,
        auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
        connectTimeoutMs: 1_000,
        headersTimeoutMs: 1_000,
        bodyTimeoutMs: 1_000,
        maxConnections: 4,
        clock: systemClock,
      });
      const engine = createDeliveryEngine({
        client,
        limiter: l,
        clock: systemClock,
        sleep: systemSleep,
        random: () => 0.5,
        // Every attempt a caller's own retry, none an outage probe: 20 of them in well under a second.
        retry: { ...defaultRetryPolicy, baseMs: 5, maxMs: 10, outageAfterFailures: 1_000 },
        maxBodyBytes: 10_000,
      });
      const controller = new AbortController();
      let attempts = 0;
      engine.events.on('retry', () => {
        attempts += 1;
        if (attempts === 20) controller.abort();
      });
      try {
        await expect(engine.deliver(sampleBody('refused'), { signal: controller.signal })).rejects.toThrow();
      } finally {
        engine.close();
        await client.close();
      }
      // Refunds are sent without waiting for them; give the last one a moment.
      await delay(100);
      const redis = new Redis(url);
      try {
        const total = Number((await redis.hget(`{${prefix}}:limiter:state`, 'total')) ?? 0);
        const inLog = await redis.zcard(`{${prefix}}:limiter:log`);
        expect({ attempts, total, inLog }).toEqual({ attempts: 20, total: 0, inLog: 0 });
      } finally {
        redis.disconnect();
      }
      expect(l.snapshot().dailyRemaining).toBe(1_000);
    });
  });
});

describe('RedisLimiter refunds and settled margins, on Redis', () => {
  async function state(url: string, prefix: string) {
    const redis = new Redis(url);
    try {
      const total = Number((await redis.hget(`{${prefix}}:limiter:state`, 'total')) ?? 0);
      const log = await redis.zrange(`{${prefix}}:limiter:log`, '0', '-1', 'WITHSCORES');
      const scores = new Map<string, number>();
      for (let i = 0; i < log.length; i += 2) scores.set(log[i]!, Number(log[i + 1]));
      return { total, scores };
    } finally {
      redis.disconnect();
    }
  }

  it('a slot released unused frees its place in the shared log at once for the next caller', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(url, prefix, { ratePerSecond: 2, dailyLimit: 100 });
      const [first] = [await l.acquire(), await l.acquire()];
      const third = l.acquire();
      await delay(100);
      const released = performance.now();
      first.release();
      await third;
      // Without the refund the third caller waits for the first start to leave the window.
      expect(performance.now() - released).toBeLessThan(500);
      const { total, scores } = await state(url, prefix);
      expect({ total, inLog: scores.size }).toEqual({ total: 2, inLog: 2 });
      expect(l.snapshot().dailyRemaining).toBe(98);
    });
  });

  it('answered calls keep the whole margin in the shared log: one replica cannot size it for another', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(url, prefix, { ratePerSecond: 3, windowMarginMs: 200 });
      const grants: number[] = [];
      l.on('acquired', (e) => grants.push(e.serverTimeMs!));
      // Every call leaves at once and is answered at once (a quick, steady Gong): in the local
      // limiter these would keep about 2 ms each after the warm-up.
      for (let i = 0; i < 18; i += 1) {
        const slot = await l.acquire();
        slot.onWire();
        slot.release();
      }
      // Each start holds its slot for 1,000 ms plus the whole 200 ms, however fast its answer: a
      // call three places later follows it by about 1,200 ms.
      const spacing = grants.slice(12).map((t, i) => t - grants[9 + i]!);
      for (const gap of spacing) {
        expect(gap).toBeGreaterThanOrEqual(1_195);
        expect(gap).toBeLessThan(1_350);
      }
    });
  });

  it('a call that left late (moved by the wire op) is settled from when it left, not from its grant', async () => {
    await withRedis(async (url) => {
      const prefix = `it-${randomUUID()}`;
      const l = limiter(url, prefix, { ratePerSecond: 2, windowMarginMs: 200 });
      const grants: number[] = [];
      l.on('acquired', (e) => grants.push(e.serverTimeMs!));
      for (let i = 0; i < 10; i += 1) {
        const slot = await l.acquire();
        slot.onWire();
        slot.release();
      }
      // Two calls wait 100 ms for their connections, then leave and are answered at once.
      const slots = [await l.acquire(), await l.acquire()];
      const granted = grants.at(-1)!;
      await delay(100);
      for (const slot of slots) slot.onWire();
      for (const slot of slots) slot.release();
      await l.acquire();
      // From when they left (~100 ms after the grant) plus the margin: not from the grant.
      const next = grants.at(-1)! - granted;
      expect(next).toBeGreaterThanOrEqual(1_295);
      expect(next).toBeLessThan(1_400);
    });
  });

  it('refunds made while Redis is cut off reach it once it is back, and fallback calls never made are not debited', async () => {
    const redis = await startRedisHandle();
    const proxy = await tcpFaultProxy(new URL(redis.url).host);
    try {
      const prefix = `it-${randomUUID()}`;
      const proxied = `redis://${proxy.address}`;
      const l = limiter(proxied, prefix, { expectedReplicas: 1, ratePerSecond: 20, dailyLimit: 1_000 });
      const recovered = new Promise<void>((resolve) => l.on('recovered', () => resolve()));
      const inRedis = await l.acquire();
      await l.acquire();
      await proxy.setEnabled(false);
      // Cut off: this refund cannot reach Redis yet.
      inRedis.release();
      const fallbackSlots = [await l.acquire(), await l.acquire(), await l.acquire()];
      expect(l.snapshot().mode).toBe('local-fallback');
      fallbackSlots[0]!.release();
      fallbackSlots[1]!.onWire();
      fallbackSlots[1]!.release();
      await proxy.setEnabled(true);
      await recovered;
      await delay(200);
      // 2 granted in Redis, one handed back; 3 in fallback, one never made: 1 + 2 calls.
      expect((await state(redis.url, prefix)).total).toBe(3);
    } finally {
      await proxy.close();
      await redis.stop();
    }
  });
});

async function startRedisHandle() {
  return spawnRedis();
}
