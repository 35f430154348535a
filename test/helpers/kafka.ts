import { randomUUID } from 'node:crypto';
import { type Kafka, logLevel, type Admin } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { inject } from 'vitest';

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

/** Creates topics and returns a cleanup function that deletes them. */
export async function createTopics(
  admin: Admin,
  topics: string[],
  numPartitions = 3,
): Promise<() => Promise<void>> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
  });
  return async () => {
    await admin.deleteTopics({ topics }).catch(() => {});
  };
}
