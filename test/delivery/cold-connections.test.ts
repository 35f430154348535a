import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { defaultRetryPolicy } from '../../src/delivery/retry-policy.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { startSandbox } from '../../src/sandbox/server.ts';
import { sampleBody } from './helpers.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('calls on cold connections', () => {
  it('a burst that waits 150 ms for its connections does not bunch up with the next one at Gong', async () => {
    const rate = 10;
    const sandbox = await startSandbox({ accessKey: 'k', accessKeySecret: 's', rps: rate, daily: 0 });
    // Every new connection waits 150 ms for its address, like DNS + TCP + TLS to a distant Gong.
    // Counted from the grant, the first burst then arrives 150 ms late and the second, on warm
    // connections, lands inside the same rolling second: the sandbox answers 429.
    const slowLookup = ((host: string, options: { all?: boolean }, callback: never) => {
      setTimeout(
        () => dnsLookup(host, options as { all: true }, callback as (e: unknown, a: LookupAddress[]) => void),
        150,
      );
    }) as unknown as LookupFunction;
    const client = createGongClient({
      baseUrl: sandbox.url.replace('127.0.0.1', 'localhost'),
      auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 5_000,
      maxConnections: 16,
      clock: systemClock,
      lookup: slowLookup,
    });
    const limiter = new LocalLimiter({
      ratePerSecond: rate,
      dailyLimit: 10_000,
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

    const outcomes = await Promise.all(
      Array.from({ length: 3 * rate }, (_, i) => engine.deliver(sampleBody(i))),
    );

    expect(outcomes.every((outcome) => outcome.kind === 'delivered')).toBe(true);
    const statuses = sandbox.calls().map((call) => call.status);
    expect(statuses.filter((status) => status === 429)).toEqual([]);
    expect(statuses).toHaveLength(3 * rate);
    expect(maxInWindow(sandbox.calls().map((call) => call.t))).toBeLessThanOrEqual(rate);
  });
});
