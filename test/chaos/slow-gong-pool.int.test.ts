import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../helpers/bridge.ts';
import { testKafka } from '../helpers/kafka.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';
import { runScenario } from './scenario.ts';

/**
 * Grant = departure across the cluster (issue 14 §1): two replicas share the rate through Redis,
 * each with fewer connections than records in flight, while Gong stalls for seconds at a time and
 * partitions move (a third replica joins and leaves). Calls granted while every connection waited
 * on a stalled answer used to queue inside undici and leave together when the stall ended: a strict
 * server counted 47 calls in one rolling second against a 45/s limit. The sandbox is that strict
 * server: a sliding log of arrivals, and 429 for a call over the rate.
 */
describe('chaos: a stalling Gong behind small connection pools, two replicas on Redis', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const rate = 10;

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  it('never more than R arrivals in any rolling second at Gong, and nothing lost', async () => {
    let stalls = 0;
    let moves = 0;
    let maxRolling = 0;
    const books = await runScenario({
      name: 'gong-stall-small-pool',
      kafka,
      admin,
      replicas: 2,
      sandbox: { rps: rate },
      env: {
        REDIS_URL: inject('services').redisUrl,
        REDIS_KEY_PREFIX: `chaos-stall-${Date.now()}`,
        GONG_RATE_PER_SECOND: String(rate),
        GONG_EXPECTED_REPLICAS: '2',
        GONG_MAX_CONNECTIONS: '4',
        MAX_IN_FLIGHT: '32',
        GONG_HEADERS_TIMEOUT_MS: '10000',
      },
      timeoutMs: 120_000,
      during: async ({ sandbox, startReplica }) => {
        await waitFor('some traffic delivered', () => sandbox.stats().accepted >= 10, 60_000, 20);
        // Stall for 3 s, answer promptly for 2 s; twice, with partitions moving in between.
        for (let round = 0; round < 2; round += 1) {
          sandbox.setFaults({ latencyMs: 3_000 });
          stalls += 1;
          await new Promise((resolve) => setTimeout(resolve, 3_000));
          sandbox.setFaults({ latencyMs: 0 });
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          if (round === 0) {
            const third = await startReplica();
            moves += 1;
            await new Promise((resolve) => setTimeout(resolve, 3_000));
            await third.stop();
            moves += 1;
          }
        }
      },
      faults: ({ sandbox }) => {
        const calls = sandbox.calls();
        maxRolling = maxInWindow(calls.map((call) => call.t));
        return {
          ratePerSecond: rate,
          replicas: '2 (+1 joining and leaving)',
          connectionsPerReplica: 4,
          stalls,
          partitionMoves: moves,
          throttled429: sandbox.stats().byStatus['429'] ?? 0,
          maxArrivalsInRollingSecond: maxRolling,
        };
      },
    });
    expect(books.faults.throttled429).toBe(0);
    expect(maxRolling).toBeLessThanOrEqual(rate);
  }, 240_000);
});
