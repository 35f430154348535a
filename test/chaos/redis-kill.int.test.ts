import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/bridge.ts';
import { testKafka } from '../helpers/kafka.ts';
import { spawnRedis, type SpawnedRedis } from '../helpers/redis.ts';
import { runScenario } from './scenario.ts';

/**
 * Three replicas share Gong's quota through Redis; Redis is killed mid-run and started again
 * (empty). Each replica must fall back to its share of the rate (rate / GONG_EXPECTED_REPLICAS),
 * re-join when Redis is back, and Gong (the sandbox, limiting at the configured rate) must never
 * see more than the configured rate: not one 429.
 */
describe('chaos: Redis killed while three replicas share the quota', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  let redis: SpawnedRedis;
  const downMs = Number(process.env.CHAOS_REDIS_DOWN_MS ?? 3_000);
  const rate = 10;

  beforeAll(async () => {
    await admin.connect();
    redis = await spawnRedis();
  });

  afterAll(async () => {
    await redis?.stop();
    await admin.disconnect();
  });

  it('falls back, re-joins, and Gong never sees more than the configured rate', async () => {
    let kills = 0;
    const books = await runScenario({
      name: 'redis-kill',
      kafka,
      admin,
      replicas: 3,
      sandbox: { rps: rate },
      env: {
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: `chaos-${Date.now()}`,
        GONG_RATE_PER_SECOND: String(rate),
        GONG_EXPECTED_REPLICAS: '3',
      },
      during: async ({ sandbox }) => {
        await waitFor('a fifth of the traffic delivered', () => sandbox.stats().accepted >= 20, 60_000, 50);
        await redis.kill();
        kills++;
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await redis.start();
      },
      faults: ({ sandbox }) => ({
        redisKills: kills,
        downMs,
        replicas: 3,
        ratePerSecond: rate,
        throttled429: sandbox.stats().byStatus['429'] ?? 0,
        peakCallsPerRollingSecond: sandbox.stats().peakCallsPerRollingSecond,
      }),
    });
    expect(books.faults.redisKills).toBe(1);
    // The sandbox limits at the configured rate, so any call over it is answered 429.
    expect(books.faults.throttled429).toBe(0);
  });
});
