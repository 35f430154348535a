import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../helpers/kafka.ts';
import { startResetProxy } from './harness.ts';
import { runScenario } from './scenario.ts';

/**
 * Gong misbehaving in every way the sandbox and a resetting proxy can make it: slow answers and
 * timeouts, a 429 storm with varying Retry-After, half of all calls failing with a 5xx, and
 * connections reset after the call was made. The short form runs in CI; CHAOS_STORM_MS (default
 * 10 s, `make chaos` 60 s) sets how long the 5xx storm lasts.
 */
describe('chaos: Gong faults', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const stormMs = Number(process.env.CHAOS_STORM_MS ?? 10_000);

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  it('slow Gong: 2-3 s answers, and calls that time out first are absorbed as 409 on retry', async () => {
    const books = await runScenario({
      name: 'gong-slow',
      kafka,
      admin,
      sandbox: { faults: { latencyMs: 2_000, latencyJitterMs: 1_000 } },
      // About half the answers arrive after the bridge stopped waiting: stored, but unseen.
      env: { GONG_HEADERS_TIMEOUT_MS: '2500' },
      faults: ({ sandbox }) => ({
        latencyMs: '2000-3000',
        headersTimeoutMs: 2_500,
        calls: sandbox.stats().calls,
      }),
    });
    expect(books.duplicatesSent).toBeGreaterThan(0);
  });

  it('storming Gong: 429s with varying Retry-After, 50% 5xx for a while, and connection resets', async () => {
    let resetRate = 0.05;
    let proxy: Awaited<ReturnType<typeof startResetProxy>> | undefined;
    try {
      const books = await runScenario({
        name: 'gong-storm',
        kafka,
        admin,
        // Gong's own limiter at 5/s against a bridge allowed 20/s: a standing 429 storm, each
        // answer carrying the Retry-After of the sandbox's window at that moment.
        sandbox: { rps: 5, faults: { failRate: 0.5 } },
        gongUrl: async (sandbox) => {
          proxy = await startResetProxy({ host: sandbox.host, port: sandbox.port }, () => resetRate);
          return proxy.url;
        },
        during: async ({ sandbox }) => {
          await new Promise((resolve) => setTimeout(resolve, stormMs));
          sandbox.setFaults({ failRate: 0 });
          resetRate = 0.02;
        },
        faults: ({ sandbox }) => {
          const byStatus = sandbox.stats().byStatus;
          const serverErrors = Object.entries(byStatus)
            .filter(([status]) => status.startsWith('5'))
            .reduce((sum, [, count]) => sum + count, 0);
          return {
            throttled429: byStatus['429'] ?? 0,
            failed5xx: serverErrors,
            stormMs,
            resets: proxy?.resets() ?? 0,
          };
        },
      });
      expect(books.faults.throttled429).not.toBe(0);
    } finally {
      await proxy?.close();
    }
  });
});
