import { logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { kafkaClientConfig } from '../../src/kafka/connection.ts';
import {
  createBatchedProducer,
  createNonIdempotentProducer,
  type ProducerSendFailure,
} from '../../src/kafka/batched-producer.ts';
import { createDlqWriter, dlqProducerOptions, type SourceRecord } from '../../src/kafka/dlq.ts';
import { bridgeEnv, readAll, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { kafkaFaultProxy, type KafkaFaultProxy } from '../helpers/toxiproxy.ts';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';

/**
 * Issue 13 §1: a produce reply forwarded by the broker and then lost must not cost a dead
 * letter. With kafkajs 2.2.4's idempotent producer and concurrent sends, the failed request's
 * sequence number was rolled back and taken by the next queued letter, which the broker then
 * acknowledged as a duplicate of the first without storing it.
 */
describe('dead letters whose produce reply is lost', () => {
  const admin = testKafka().admin();
  let proxy: KafkaFaultProxy;

  beforeAll(async () => {
    await admin.connect();
    proxy = await kafkaFaultProxy();
  });

  afterAll(async () => {
    await proxy.close();
    await admin.disconnect();
  });

  const letter = (n: number): SourceRecord => ({
    topic: 'interactions',
    partition: 0,
    offset: String(n),
    timestamp: '1764000000000',
    key: Buffer.from(`letter-${n}`),
    value: Buffer.from(`value-${n}`),
  });

  it('writes every one of 20 letters in flight when one reply is lost', async () => {
    const topic = uniqueName('dlq-lost-reply');
    const drop = await createTopics(admin, [topic], 1);
    // The bridge's own client settings, bootstrapped through the proxy.
    const config = loadConfig(bridgeEnv({ KAFKA_BROKERS: proxy.brokers.join(','), KAFKA_TOPICS: 'x' }));
    const kafka = kafkaClient({ ...kafkaClientConfig(config), logLevel: logLevel.NOTHING });
    // ...and the dead-letter producer exactly as `run` builds it.
    const producer = createNonIdempotentProducer(kafka);
    const failures: ProducerSendFailure[] = [];
    const batches = createBatchedProducer({
      ...dlqProducerOptions,
      producer,
      topic,
      clock: systemClock,
      sleep: systemSleep,
      onFailure: (failure) => failures.push(failure),
    });
    const dlq = createDlqWriter({ producer: batches, version: 'test', wallNow: () => Date.now() });
    await producer.connect();
    try {
      // Warm up: metadata, the producer id and the connection exist before the fault.
      await dlq.write(letter(0), { reason: 'GONG_INVALID', message: 'warm-up' });
      const before = BigInt((await admin.fetchTopicOffsets(topic))[0]!.high);
      // The next reply that comes back is dropped and its connection reset: the request was
      // appended, the client never hears so.
      await proxy.addToxic({ type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } });
      const writes = Array.from({ length: 20 }, (_, i) =>
        dlq.write(letter(i + 1), { reason: 'GONG_INVALID', message: 'in flight' }),
      );
      await waitFor(
        'a produce request appended behind the lost reply',
        async () => BigInt((await admin.fetchTopicOffsets(topic))[0]!.high) > before,
        20_000,
        20,
      );
      await proxy.clearToxics();
      await Promise.all(writes);
    } finally {
      await proxy.clearToxics();
      batches.close();
      await producer.disconnect();
    }
    const keys = (await readAll(testKafka(), topic)).map((record) => record.key);
    await drop();
    const stored = new Set(keys);
    const missing = Array.from({ length: 21 }, (_, i) => `letter-${i}`).filter((key) => !stored.has(key));
    console.log(
      `dlq lost reply: stored ${keys.length} records for 21 letters, missing ${missing.length} ` +
        `(${missing.join(',')}), duplicates ${keys.length - stored.size}, failures reported ${failures.length}`,
    );
    expect(missing, `acknowledged but not stored; ${failures.length} failures reported`).toEqual([]);
    // The lost reply is a real failure, and it is reported (metrics, logs), not hidden by kafkajs.
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((failure) => failure.outcome === 'retry')).toBe(true);
  }, 90_000);
});
