import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryEngine, type DeliveryEngineOptions } from '../../src/delivery/engine.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { defaultRetryPolicy } from '../../src/delivery/retry-policy.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { createGongClient, type GongClient } from '../../src/gong/client.ts';
import { freePort } from '../helpers/redis.ts';
import { FakeLimiter, sampleBody, startScriptedServer } from './helpers.ts';

/**
 * Issue 14 §2: a call Gong never saw must not cost quota. These drive the real engine, the real
 * Gong client and the local limiter against a refused port and a real HTTP server, and compare
 * what the limiter charged with what reached the server.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(baseUrl: string): GongClient {
  const created = createGongClient({
    baseUrl,
    auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
    maxConnections: 4,
    clock: systemClock,
  });
  cleanups.push(() => created.close());
  return created;
}

function limiter(ratePerSecond: number, dailyLimit: number): LocalLimiter {
  const created = new LocalLimiter({
    ratePerSecond,
    dailyLimit,
    dailyWindow: 'rolling',
    clock: systemClock,
    sleep: systemSleep,
  });
  cleanups.push(() => created.close());
  return created;
}

function engine(options: Pick<DeliveryEngineOptions, 'client' | 'limiter'> & Partial<DeliveryEngineOptions>) {
  const created = createDeliveryEngine({
    clock: systemClock,
    sleep: systemSleep,
    random: () => 0.5,
    retry: { ...defaultRetryPolicy, baseMs: 5, maxMs: 10 },
    maxBodyBytes: 10_000,
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

describe('refunds: quota spent only on calls that left', () => {
  it('attempts refused at the TCP level cost neither daily budget nor per-second slots', async () => {
    const port = await freePort();
    const l = limiter(50, 1_000);
    // Every attempt a caller's own retry, none an outage probe: 30 of them in well under a second.
    const e = engine({
      client: client(`http://127.0.0.1:${port}`),
      limiter: l,
      retry: { ...defaultRetryPolicy, baseMs: 5, maxMs: 10, outageAfterFailures: 1_000 },
    });
    const controller = new AbortController();
    const codes: string[] = [];
    e.events.on('retry', (event) => {
      codes.push(event.code ?? String(event.status));
      if (codes.length === 30) controller.abort();
    });
    await expect(e.deliver(sampleBody('refused'), { signal: controller.signal })).rejects.toThrow();
    expect(codes).toHaveLength(30);
    expect(new Set(codes)).toEqual(new Set(['ECONNREFUSED']));
    // 30 attempts, none reached anything: the whole budget and the whole second are still there.
    expect(l.snapshot()).toMatchObject({ dailyRemaining: 1_000, tokensAvailable: 50 });
  });

  it('a halt hands back the slots its waiting callers were granted and did not use', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script([{ status: 200, body: { requestId: 'warm' } }], {
      status: 401,
      body: { requestId: 'r', errors: ['bad key'] },
    });
    const l = limiter(4, 1_000);
    let granted = 0;
    l.on('acquired', () => (granted += 1));
    // No probe during the test: every call that reaches the server is one of the first burst.
    const e = engine({ client: client(server.url), limiter: l, authProbeIntervalMs: 60_000 });
    // Until Gong has answered once the engine sends one call at a time; warm it up, then let the
    // second refill so the burst below takes all four slots at once.
    expect((await e.deliver(sampleBody('warm-up'))).kind).toBe('delivered');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    granted = 0;
    const controller = new AbortController();
    const pending = Array.from({ length: 10 }, (_, n) =>
      e.deliver(sampleBody(`halt-${n}`), { signal: controller.signal }).catch(() => undefined),
    );
    // 4 calls at once, then the six waiting callers are granted over the next two seconds and
    // find the engine halted.
    for (let waited = 0; granted < 10 && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(e.isHalted()).toBe(true);
    expect(granted).toBe(10);
    const reached = server.requests.length;
    expect(reached).toBe(1 + 4);
    expect(1_000 - l.snapshot().dailyRemaining).toBe(reached);
    controller.abort();
    await Promise.all(pending);
  });
});

describe('the engine hands every slot back once', () => {
  it('releases each granted slot exactly once: answered, refused, dropped for a halt', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script([{ status: 503 }, 'destroy', { status: 200, body: { requestId: 'a' } }]);
    const fake = new FakeLimiter();
    const e = engine({ client: client(server.url), limiter: fake });
    const outcome = await e.deliver(sampleBody('once'));
    expect(outcome.kind).toBe('delivered');
    expect({ acquired: fake.acquired, wired: fake.wired, released: fake.released }).toEqual({
      acquired: 3,
      wired: 3,
      released: 3,
    });
  });
});
