import { randomUUID } from 'node:crypto';
import { type Kafka, logLevel, type Admin } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';

/** Unique per test, so parallel or repeated runs never share topics or groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(clientId = uniqueName('test')): Kafka {
  return kafkaClient({
    clientId,
    brokers: inject('services').kafkaBrokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

/** Metadata answers a topic just created can get before every partition has a leader. */
const notReadyYet = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates topics, waits until every partition has a leader, and returns a cleanup function that
 * deletes them. kafkajs' own `waitForLeaders` retries only LEADER_NOT_AVAILABLE, but a busy broker
 * may first answer UNKNOWN_TOPIC_OR_PARTITION for a topic it has just created, which would fail
 * the test at its set-up; both are waited out here, for at most 30 s.
 */
export async function createTopics(
  admin: Admin,
  topics: string[],
  numPartitions = 3,
): Promise<() => Promise<void>> {
  await admin.createTopics({
    waitForLeaders: false,
    topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      const ready = found.every(
        (topic) =>
          topic.partitions.length === numPartitions &&
          topic.partitions.every((partition) => partition.leader >= 0),
      );
      if (ready) break;
    } catch (error) {
      if (!notReadyYet.has((error as { type?: string }).type ?? '') || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return async () => {
    await admin.deleteTopics({ topics }).catch(() => {});
  };
}

/**
 * The set-up most broker suites share: a client and a connected admin for the whole suite, and
 * cleanups that run after each test, newest first (one failing does not stop the rest).
 * Call it inside `describe`: it registers the hooks there.
 */
export function kafkaTestSuite(): { kafka: Kafka; admin: Admin; cleanups: (() => Promise<unknown>)[] } {
  const kafka = testKafka();
  const admin = kafka.admin();
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    await admin.connect();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => {
    await admin.disconnect();
  });
  return { kafka, admin, cleanups };
}
