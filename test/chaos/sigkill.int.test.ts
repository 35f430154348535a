import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCommitted, bridgeEnv } from '../helpers/bridge.ts';
import { testKafka } from '../helpers/kafka.ts';
import { killDuringDelivery, type BridgeProcess } from './bridge-process.ts';
import { account } from './harness.ts';
import { expectBalancedBooks, expectNoSecret, prepareScenario } from './scenario.ts';

/**
 * `gong-bridge run` as a process, SIGKILLed several times mid-run and restarted each time: no
 * drain, no last commit, no LeaveGroup. Nothing may be lost, and a kill should cost no more calls
 * than the work it interrupted: records settled but not yet committed, and calls on the wire,
 * are sent again by the next process (each answered 409) and bad records dead-lettered again.
 *
 * The books add what a kill cost: calls per delivered event (3 decimals) and the 409s (replays
 * of events an earlier process had delivered); every scenario's books count the dead letters
 * stored twice. The bridge runs with the product's commit settings, since those decide that cost.
 *
 * Short form (CI): 600 events, 2 kills. `make chaos` (CHAOS_ALL=1): 3,000 events and 5 kills at
 * 45 calls/s, the run of issue 14 §5. CHAOS_KILL_EVENTS, CHAOS_KILLS and CHAOS_KILL_RATE override.
 */
describe('chaos: the bridge SIGKILLed and restarted mid-run', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const long = process.env.CHAOS_ALL === '1';
  const events = Number(process.env.CHAOS_KILL_EVENTS ?? (long ? 3_000 : 600));
  const kills = Number(process.env.CHAOS_KILLS ?? (long ? 5 : 2));
  const rate = Number(process.env.CHAOS_KILL_RATE ?? 45);

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  it('loses nothing, and a kill costs about what was in flight', { timeout: 900_000 }, async () => {
    const prepared = await prepareScenario({ name: 'sigkill', kafka, admin, events, invalidRatio: 0.05 });
    const { sandbox, topic, dlqTopic, groupId, records, monitor } = prepared;
    const running = new Set<BridgeProcess>();
    prepared.cleanups.unshift(async () => {
      for (const bridge of running) await bridge.kill('SIGKILL');
    });
    try {
      const env = bridgeEnv({
        KAFKA_TOPICS: topic,
        KAFKA_GROUP_ID: groupId,
        GONG_BASE_URL: sandbox.url,
        GONG_RATE_PER_SECOND: String(rate),
        // A killed member holds its partitions until its session expires; 6 s is the broker's
        // minimum, so restarts are quick.
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        LOG_LEVEL: 'debug',
        HTTP_PORT: '0',
      });
      // The product's commit settings, not the fast ones of the other tests: they are measured.
      delete env.COMMIT_INTERVAL_MS;
      const startedAt = Date.now();
      const drill = await killDuringDelivery({
        env,
        kills,
        valid: records.filter((record) => record.kind === 'valid').length,
        accepted: () => sandbox.stats().accepted,
        done: {
          what: `every record of ${topic} committed`,
          check: () => allCommitted(admin, groupId, topic).catch(() => false),
        },
        running,
      });
      const { killedAfter } = drill;
      const output = drill.outputs;
      expect(drill.lastExitCode, drill.lastOutput.slice(-4_000)).toBe(0);
      const stats = sandbox.stats();
      const books = await account({
        scenario: 'sigkill',
        kafka,
        dlqTopic,
        records,
        sandbox,
        faults: {
          kills,
          killedAfterDelivered: killedAfter.join('/'),
          ratePerSecond: rate,
          calls: stats.calls,
          callsPerDeliveredEvent: Math.round((stats.calls / Math.max(1, stats.accepted)) * 1000) / 1000,
          replayed409: stats.byStatus['409'] ?? 0,
        },
        monitor: await monitor.stop(),
        startedAt,
      });
      await expectNoSecret(env, output, kafka, dlqTopic);
      expectBalancedBooks(books);
      expect(books.faults.kills).toBe(kills);
    } finally {
      await prepared.close();
    }
  });
});
