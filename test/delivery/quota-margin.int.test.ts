import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { startSandboxProcess, type SandboxProcess } from '../../src/sandbox/child-process.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';
import { httpUrl, tcpFaultProxy, type FaultProxy } from '../helpers/toxiproxy.ts';

/**
 * Issue 14 §6: each call keeps only the margin its own round trip shows it needs. Shown against a
 * strict server that counts arrivals (the sandbox at 3/s, in its own process as Gong is, so the
 * bridge's event loop cannot delay the moment it counts), on loopback and with jittered latency
 * on the requests, the direction that moves arrivals (Toxiproxy). What the margin saves in rate
 * is measured by `npm run bench:quota`; this checks that it costs no 429 while the calls keep far
 * less than the cap. The cap is 250 ms: on the shared development host requests reached even a
 * sandbox of its own up to ~100 ms after they left, which no 50 ms margin, fixed or per call,
 * covers (docs/benchmarks.md).
 */
const CAP_MS = 250;

const KEY = 'margin-key';
const SECRET = 'margin-secret';
const RATE = 3;
let sandbox: SandboxProcess;

beforeAll(async () => {
  sandbox = await startSandboxProcess([
    '--rps',
    String(RATE),
    '--daily-limit',
    '0',
    '--access-key',
    KEY,
    '--access-key-secret',
    SECRET,
  ]);
});

afterAll(() => sandbox.close());

/** Keeps 8 deliveries waiting for `seconds` through `baseUrl`; returns what the sandbox saw. */
async function saturate(baseUrl: string, seconds: number, name: string) {
  const limiter = new LocalLimiter({
    ratePerSecond: RATE,
    dailyLimit: 100_000,
    dailyWindow: 'rolling',
    windowMarginMs: CAP_MS,
    clock: systemClock,
    sleep: systemSleep,
  });
  const client = createGongClient({
    baseUrl,
    auth: { kind: 'basic', accessKey: KEY, accessKeySecret: SECRET },
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    maxConnections: 8,
    clock: systemClock,
  });
  const engine = createDeliveryEngine({
    client,
    limiter,
    clock: systemClock,
    sleep: systemSleep,
    maxBodyBytes: 100_000,
  });
  // The sandbox process warms up on calls of its own before it starts counting ours: its first
  // requests after start-up took ~90 ms to reach its handler (compiling), a delay no 50 ms margin covers.
  for (let i = 0; i < 20; i += 1) {
    await client.postDigitalInteraction(JSON.stringify({ eventId: `warm-${name}-${i}` }));
  }
  await sandbox.json('/_sandbox/reset', 'POST');
  const stop = new AbortController();
  let n = 0;
  const workers = Array.from({ length: 8 }, async () => {
    while (!stop.signal.aborted) {
      const body = {
        eventId: `${name}-${n++}`,
        timestamp: '2026-11-24T10:00:00Z',
        eventType: 'page viewed',
        content: { contentTitle: 'Pricing' },
        trackingId: 't',
      };
      await engine.deliver(body, { signal: stop.signal }).catch(() => undefined);
    }
  });
  await systemSleep(seconds * 1000);
  stop.abort();
  await Promise.all(workers);
  const margin = limiter.snapshot().windowMarginMs;
  engine.close();
  await client.close();
  await limiter.close();
  const { calls } = await sandbox.json<{ calls: { t: number; status: number }[] }>('/_sandbox/calls');
  return { calls, margin };
}

describe('per-call margins against a strict server (issue 14 §6)', () => {
  const proxies: FaultProxy[] = [];
  afterAll(async () => {
    for (const proxy of proxies) await proxy.close();
  });

  for (const condition of [
    { name: 'loopback', latency: 0, jitter: 0 },
    { name: 'latency 20 +- 10 ms', latency: 20, jitter: 10 },
    { name: 'latency 200 +- 20 ms', latency: 200, jitter: 20 },
  ]) {
    it(`draws no 429 and never more than ${RATE} arrivals in a rolling second: ${condition.name}`, async () => {
      let baseUrl = sandbox.url;
      if (condition.latency > 0) {
        const proxy = await tcpFaultProxy(new URL(sandbox.url).host);
        proxies.push(proxy);
        await proxy.addToxic({
          type: 'latency',
          stream: 'upstream',
          attributes: { latency: condition.latency, jitter: condition.jitter },
        });
        baseUrl = httpUrl(proxy);
      }
      const { calls, margin } = await saturate(baseUrl, 20, condition.name.replace(/\W+/g, '-'));
      const statuses = calls.map((call) => call.status);
      expect(statuses.filter((status) => status === 429)).toEqual([]);
      expect(statuses.length).toBeGreaterThanOrEqual(RATE * 15);
      expect(maxInWindow(calls.map((call) => call.t))).toBeLessThanOrEqual(RATE);
      // The margin kept never exceeds its cap. How far it shrinks depends on the host's own
      // jitter (under a load of 10 on two cores, 247 ms of 250 at 200 +- 20 ms), so that is a
      // figure for bench:quota, and window-margin.test.ts pins the rule on a scripted clock.
      expect(margin).toBeLessThanOrEqual(CAP_MS);
    });
  }
});
