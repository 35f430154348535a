import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { defaultRetryPolicy } from '../../src/delivery/retry-policy.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';
import { sampleBody } from './helpers.ts';

/**
 * Issue 14 §1: a call's grant and its departure must be the same moment. With more records in
 * flight than the pool has connections and a Gong that answers slowly, calls granted while every
 * connection waited queued inside undici and left together once connections freed up, long after
 * the limiter had counted them: 8 arrivals within 27 ms at a 3/s limit. The sandbox is the strict
 * server here: a sliding log of arrivals that answers 429 to a call over the rate.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Run {
  readonly rate: number;
  readonly connections: number;
  readonly inFlight: number;
  readonly calls: number;
  /** Every answer waits this long, plus up to `jitterMs` more. */
  readonly latencyMs: number;
  readonly jitterMs: number;
  /** The answers are this slow for the first `slowForMs`, then prompt. */
  readonly slowForMs: number;
  readonly seed: number;
}

async function deliverThroughSmallPool(run: Run): Promise<RunningSandbox> {
  const sandbox = await startSandbox({
    accessKey: 'k',
    accessKeySecret: 's',
    rps: run.rate,
    daily: 0,
    seed: run.seed,
    faults: { latencyMs: run.latencyMs, latencyJitterMs: run.jitterMs },
  });
  const client = createGongClient({
    baseUrl: sandbox.url,
    auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 30_000,
    maxConnections: run.connections,
    clock: systemClock,
  });
  const limiter = new LocalLimiter({
    ratePerSecond: run.rate,
    dailyLimit: 1_000_000,
    dailyWindow: 'rolling',
    windowMarginMs: 50,
    clock: systemClock,
    sleep: systemSleep,
  });
  const engine = createDeliveryEngine({
    client,
    limiter,
    clock: systemClock,
    sleep: systemSleep,
    retry: defaultRetryPolicy,
    maxBodyBytes: 100_000,
  });
  cleanups.push(async () => {
    engine.close();
    await limiter.close();
    await client.close();
    await sandbox.close();
  });
  const calm = setTimeout(() => sandbox.setFaults({ latencyMs: 0, latencyJitterMs: 0 }), run.slowForMs);
  cleanups.push(async () => clearTimeout(calm));
  // MAX_IN_FLIGHT records at a time, as the runtime dispatches them.
  let next = 0;
  const worker = async () => {
    while (next < run.calls) {
      const n = next++;
      const outcome = await engine.deliver(sampleBody(`${run.seed}-${n}`));
      expect(outcome.kind).toBe('delivered');
    }
  };
  await Promise.all(Array.from({ length: run.inFlight }, worker));
  return sandbox;
}

function expectNeverOverRate(sandbox: RunningSandbox, rate: number): void {
  const calls = sandbox.calls();
  const arrivals = calls.map((call) => call.t).sort((a, b) => a - b);
  const seen = {
    throttled: calls.filter((call) => call.status === 429).length,
    maxInRollingSecond: maxInWindow(arrivals),
    tightestSpanOfRPlusOne: tightestSpan(arrivals, rate + 1),
  };
  expect(seen).toMatchObject({
    throttled: 0,
    maxInRollingSecond: expect.toSatisfy((n: number) => n <= rate),
  });
}

/** The shortest time in which `count` consecutive arrivals came (Infinity with fewer). */
function tightestSpan(sorted: readonly number[], count: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i + count - 1 < sorted.length; i += 1) {
    best = Math.min(best, Math.round(sorted[i + count - 1]! - sorted[i]!));
  }
  return best;
}

describe('grant = departure with a pool smaller than the records in flight', () => {
  it('a Gong that stalls 3 s: calls granted meanwhile do not leave together when it answers', async () => {
    const sandbox = await deliverThroughSmallPool({
      rate: 3,
      connections: 4,
      inFlight: 16,
      calls: 18,
      latencyMs: 3_000,
      jitterMs: 0,
      slowForMs: 2_500,
      seed: 1,
    });
    expectNeverOverRate(sandbox, 3);
  }, 30_000);

  it('property: slow, jittery and stalling answers never put more than R arrivals in a rolling second', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rate: fc.constantFrom(2, 3, 5),
          connections: fc.integer({ min: 1, max: 4 }),
          extraInFlight: fc.integer({ min: 1, max: 12 }),
          latencyMs: fc.integer({ min: 0, max: 1_500 }),
          jitterMs: fc.integer({ min: 0, max: 1_500 }),
          slowForMs: fc.integer({ min: 500, max: 2_500 }),
          seed: fc.integer({ min: 1, max: 1_000_000 }),
        }),
        async ({ extraInFlight, ...rest }) => {
          const run = { ...rest, inFlight: rest.connections + extraInFlight, calls: 3 * rest.rate };
          const sandbox = await deliverThroughSmallPool(run);
          expectNeverOverRate(sandbox, run.rate);
          for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
        },
      ),
      // Real time and a real server per run: no shrinking, the first counterexample is enough.
      { numRuns: 4, endOnFailure: true },
    );
  }, 120_000);
});
