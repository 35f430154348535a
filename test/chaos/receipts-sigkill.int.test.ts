import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Receipt } from '../../src/receipts/receipt.ts';
import { allCommitted, bridgeEnv } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { coordinatesOf, followReceipts, readReceipts } from '../helpers/receipts.ts';
import { killDuringDelivery, type BridgeProcess } from './bridge-process.ts';
import { account, type ProducedRecord } from './harness.ts';
import { expectBalancedBooks, prepareScenario } from './scenario.ts';

/**
 * Issue 16 §4: receipts are written before the commit, with the same care as dead letters. The
 * bridge runs as a process with KAFKA_RECEIPTS_TOPIC, SIGKILLed mid-run and restarted, so a kill
 * lands between a settlement, its receipt and its commit. Asserted from the broker:
 *
 *  - while it runs: at every sample, every record below the group's committed offset already has
 *    a receipt in the receipts topic (committed offsets read first, then the receipts topic's end
 *    offsets, then everything up to those ends): no commit passes a receipt not yet stored;
 *  - at the end: every record has at least one receipt (none missing); a record settled again
 *    after a kill may have more (counted, allowed); no event has two DELIVERED receipts (Gong
 *    stored it once; a replay is a DUPLICATE), and every outcome matches what the record is.
 *
 * Short form (CI): 600 events, 2 kills. CHAOS_ALL=1: 3,000 events, 5 kills. CHAOS_KILL_EVENTS,
 * CHAOS_KILLS and CHAOS_KILL_RATE override, as for sigkill.int.test.ts.
 */
describe('chaos: receipts across SIGKILLs', () => {
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

  it(
    'every committed record has its receipt; after a kill receipts may repeat, never go missing',
    { timeout: 900_000 },
    async () => {
      const prepared = await prepareScenario({
        name: 'receipts-kill',
        kafka,
        admin,
        events,
        invalidRatio: 0.05,
      });
      const { sandbox, topic, dlqTopic, groupId, records, monitor } = prepared;
      const receiptsTopic = `${topic}.receipts`;
      // Made here so the live reader can subscribe before the first bridge starts; the bridge leaves
      // an existing topic as it is (creating one is tested in receipts.int.test.ts).
      prepared.cleanups.push(await createTopics(admin, [receiptsTopic], 3));
      const follower = await followReceipts(kafka, receiptsTopic, uniqueName('receipts-reader'));
      prepared.cleanups.unshift(() => follower.stop());
      const running = new Set<BridgeProcess>();
      prepared.cleanups.unshift(async () => {
        for (const bridge of running) await bridge.kill('SIGKILL');
      });
      const order = startReceiptOrderMonitor({ admin, topic, receiptsTopic, groupId, records, follower });
      try {
        const env = bridgeEnv({
          KAFKA_TOPICS: topic,
          KAFKA_GROUP_ID: groupId,
          KAFKA_RECEIPTS_TOPIC: receiptsTopic,
          GONG_BASE_URL: sandbox.url,
          GONG_RATE_PER_SECOND: String(rate),
          KAFKA_SESSION_TIMEOUT_MS: '6000',
          HTTP_PORT: '0',
        });
        // The product's commit settings: they decide how much a kill leaves settled and uncommitted.
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
        expect(drill.lastExitCode, drill.lastOutput.slice(-4_000)).toBe(0);
        const ordering = await order.stop();

        const stored = await readReceipts(kafka, receiptsTopic);
        const bySource = new Map<string, Receipt[]>();
        for (const { receipt } of stored) {
          const where = coordinatesOf(receipt);
          bySource.set(where, [...(bySource.get(where) ?? []), receipt]);
        }
        const where = (record: ProducedRecord) => `${topic}/${record.partition}/${record.offset}`;
        const missing = records.filter((record) => !bySource.has(where(record))).map(where);
        const repeated = records.filter((record) => (bySource.get(where(record))?.length ?? 0) > 1).length;
        const wrong: string[] = [];
        for (const record of records) {
          for (const receipt of bySource.get(where(record)) ?? []) {
            const expected =
              record.kind === 'valid' ? ['DELIVERED -', 'DUPLICATE -'] : ['DEAD_LETTERED GONG_INVALID'];
            const seen = `${receipt.outcome} ${receipt.deadLetterReason ?? '-'}`;
            if (!expected.includes(seen) || receipt.eventId !== record.eventId)
              wrong.push(`${where(record)}: ${seen}`);
          }
          const delivered = (bySource.get(where(record)) ?? []).filter(
            (receipt) => receipt.outcome === 'DELIVERED',
          );
          if (delivered.length > 1) wrong.push(`${where(record)}: ${delivered.length} DELIVERED receipts`);
        }
        const stats = sandbox.stats();
        const books = await account({
          scenario: 'receipts-sigkill',
          kafka,
          dlqTopic,
          records,
          sandbox,
          faults: {
            kills,
            killedAfterDelivered: killedAfter.join('/'),
            ratePerSecond: rate,
            calls: stats.calls,
            receipts: stored.length,
            recordsWithRepeatedReceipts: repeated,
            receiptsMissing: missing.length,
            receiptOrderSamples: ordering.samples,
            receiptOrderViolations: ordering.violations.length,
          },
          monitor: await monitor.stop(),
          startedAt,
        });
        expectBalancedBooks(books);
        expect(ordering.violations).toEqual([]);
        expect(ordering.samples).toBeGreaterThan(5);
        expect(missing).toEqual([]);
        expect(wrong).toEqual([]);
        expect(stored.length).toBeGreaterThanOrEqual(records.length);
      } finally {
        await order.stop();
        await prepared.close();
      }
    },
  );
});

/**
 * Samples, while the bridges run, that no committed offset passes a record without a stored
 * receipt: the group's committed offsets first, then the receipts topic's end offsets, then the
 * live reader caught up to those ends. A receipt the broker stored before the commit is below
 * those ends, so a record below the commit whose receipt is not there was committed first.
 */
function startReceiptOrderMonitor(options: {
  admin: Admin;
  topic: string;
  receiptsTopic: string;
  groupId: string;
  records: readonly ProducedRecord[];
  follower: Awaited<ReturnType<typeof followReceipts>>;
}) {
  const { admin, topic, receiptsTopic, groupId, records, follower } = options;
  const byPartition = new Map<number, ProducedRecord[]>();
  for (const record of records)
    byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), record]);
  for (const list of byPartition.values()) list.sort((a, b) => (a.offset < b.offset ? -1 : 1));
  const verified = new Map<number, number>();
  const violations: string[] = [];
  let samples = 0;
  let stopped = false;
  const sample = async () => {
    let committed;
    let ends;
    try {
      [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      ends = await admin.fetchTopicOffsets(receiptsTopic);
    } catch {
      return;
    }
    if (!(await follower.caughtUp(ends, 10_000))) return;
    samples++;
    for (const { partition, offset } of committed?.partitions ?? []) {
      const list = byPartition.get(partition) ?? [];
      let index = verified.get(partition) ?? 0;
      while (index < list.length && list[index]!.offset < BigInt(offset)) {
        const record = list[index]!;
        const where = `${topic}/${partition}/${record.offset}`;
        if (!follower.bySource.has(where))
          violations.push(`${where} committed (at ${offset}) before its receipt was stored`);
        index++;
      }
      verified.set(partition, index);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, violations };
    },
  };
}
