import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDeliveryEvents } from '../../src/delivery/events.ts';
import type { HaltReason } from '../../src/delivery/outcome-policy.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { RuntimeEvents, type Readiness } from '../../src/kafka/events.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startObservability } from '../../src/observability/start.ts';
import { loadConfig } from '../../src/config/config.ts';

function silentLogger() {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  return createLogger({ config: loadConfig({ LOG_LEVEL: 'info' }), destination: sink });
}

describe('startObservability', () => {
  it('wires readiness to the runtime and the engine, and turns unready as soon as shutdown begins', async () => {
    const events = createDeliveryEvents();
    let halted: HaltReason | undefined;
    let state: Readiness = { ready: true, joined: true, authOk: true, halts: [], shuttingDown: false };
    const runtime = {
      events: new RuntimeEvents(),
      readiness: () => state,
      stats: () => ({
        consumed: 0,
        delivered: 0,
        duplicates: 0,
        deadLettered: 0,
        buffered: 2,
        inFlight: 2,
        commits: 0,
        pausedPartitions: 0,
        settledUncommitted: 0,
        receipts: 0,
        receiptsPending: 0,
      }),
    };
    const limiter = new LocalLimiter({
      ratePerSecond: 3,
      dailyLimit: 10_000,
      dailyWindow: 'rolling',
      clock: systemClock,
      sleep: systemSleep,
    });
    const shutdown = new AbortController();
    const observability = await startObservability({
      config: { HTTP_HOST: '127.0.0.1', HTTP_PORT: 0 },
      logger: silentLogger(),
      clock: systemClock,
      sleep: systemSleep,
      engine: {
        events,
        isHalted: () => halted !== undefined,
        suspension: () => (halted === undefined ? undefined : { kind: 'halt', reason: halted, since: 0 }),
      },
      limiter,
      runtime,
      signal: shutdown.signal,
      defaultMetrics: false,
    });
    const url = observability.server.url;
    const readyz = async () => {
      const response = await fetch(`${url}/readyz`);
      return {
        status: response.status,
        body: (await response.json()) as { checks: Record<string, boolean> },
      };
    };
    try {
      expect((await readyz()).status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain('gong_bridge_in_flight_records 2');
      expect(metrics).toContain('gong_bridge_ready 1');
      expect(metrics).toContain('gong_bridge_daily_quota_limit 10000');

      halted = 'credentials';
      expect(await readyz()).toMatchObject({ status: 503, body: { checks: { gongAuthOk: false } } });
      let scraped = await (await fetch(`${url}/metrics`)).text();
      expect(scraped).toContain('gong_bridge_gong_auth_failed 1');
      expect(scraped).toContain('gong_bridge_delivery_halted{reason="credentials"} 1');
      expect(scraped).toContain('gong_bridge_delivery_halted{reason="rejections"} 0');
      // The rejection breaker halts too (unready), but it is not the credentials: its own alert.
      halted = 'rejections';
      expect(await readyz()).toMatchObject({ status: 503, body: { checks: { gongAuthOk: false } } });
      scraped = await (await fetch(`${url}/metrics`)).text();
      expect(scraped).toContain('gong_bridge_gong_auth_failed 0');
      expect(scraped).toContain('gong_bridge_delivery_halted{reason="rejections"} 1');
      expect(scraped).toContain('gong_bridge_delivery_halted{reason="credentials"} 0');
      halted = undefined;

      state = { ...state, joined: false, ready: false };
      expect(await readyz()).toMatchObject({ status: 503, body: { checks: { consumerGroupJoined: false } } });
      state = { ...state, joined: true, ready: true };
      expect((await readyz()).status).toBe(200);

      // A halt of the runtime's own dependencies: the DLQ or the receipts topic refusing writes,
      // the registry refusing us.
      state = { ...state, ready: false, halts: ['dlq'] };
      expect(await readyz()).toMatchObject({
        status: 503,
        body: { checks: { dlqWritable: false, schemaRegistryAuthOk: true } },
      });
      state = { ...state, halts: ['registry-auth'] };
      expect(await readyz()).toMatchObject({
        status: 503,
        body: { checks: { dlqWritable: true, schemaRegistryAuthOk: false } },
      });
      state = { ...state, halts: ['receipts'] };
      expect(await readyz()).toMatchObject({
        status: 503,
        body: { checks: { dlqWritable: true, receiptsWritable: false, schemaRegistryAuthOk: true } },
      });
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('gong_bridge_receipts_pending 0');
      state = { ...state, ready: true, halts: [] };
      expect((await readyz()).status).toBe(200);

      // SIGTERM: unready before the runtime itself has begun to stop.
      shutdown.abort();
      expect(await readyz()).toMatchObject({ status: 503, body: { checks: { shuttingDown: true } } });
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('gong_bridge_ready 0');
    } finally {
      await observability.close();
      await limiter.close();
    }
  });

  it('fails with a configuration error naming HTTP_PORT when the port is taken', async () => {
    const events = createDeliveryEvents();
    const limiter = new LocalLimiter({
      ratePerSecond: 3,
      dailyLimit: 10_000,
      dailyWindow: 'rolling',
      clock: systemClock,
      sleep: systemSleep,
    });
    const base = {
      logger: silentLogger(),
      clock: systemClock,
      sleep: systemSleep,
      engine: { events, isHalted: () => false, suspension: () => undefined },
      limiter,
      defaultMetrics: false,
    };
    const first = await startObservability({ ...base, config: { HTTP_HOST: '127.0.0.1', HTTP_PORT: 0 } });
    try {
      await expect(
        startObservability({ ...base, config: { HTTP_HOST: '127.0.0.1', HTTP_PORT: first.server.port } }),
      ).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { variable: 'HTTP_PORT' } });
    } finally {
      await first.close();
      await limiter.close();
    }
  });
});
