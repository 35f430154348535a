import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import type { Receipt } from '../../src/receipts/receipt.ts';
import { readAll } from './bridge.ts';

export interface StoredReceipt {
  readonly key: string | null;
  /** The record as stored: magic byte, schema id, Avro. */
  readonly value: Buffer;
  readonly partition: number;
  readonly offset: string;
  /** Decoded by the registry's own deserializer, as a consumer of the topic would. */
  readonly receipt: Receipt;
}

/** Every receipt in the topic, decoded through the schema registry. */
export async function readReceipts(kafka: Kafka, topic: string): Promise<StoredReceipt[]> {
  const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
  const out: StoredReceipt[] = [];
  for (const record of await readAll(kafka, topic)) {
    if (record.value === null)
      throw new Error(`a receipt without a value at ${topic}/${record.partition}/${record.offset}`);
    out.push({
      key: record.key,
      value: record.value,
      partition: record.partition,
      offset: record.offset,
      receipt: (await registry.decode(record.value)) as Receipt,
    });
  }
  return out;
}

/** Where a receipt says its record was: `topic/partition/offset`. */
export const coordinatesOf = (receipt: Receipt): string =>
  `${receipt.source.topic}/${receipt.source.partition}/${receipt.source.offset}`;

/**
 * A live reader of a receipts topic, for checks made while the bridge runs: which source records
 * have a receipt so far, and whether it has read everything up to given end offsets.
 */
export async function followReceipts(kafka: Kafka, topic: string, groupId: string) {
  const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
  const bySource = new Map<string, Receipt[]>();
  /** Per partition, the next offset to read. */
  const next = new Map<number, bigint>();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (message.value !== null) {
        const receipt = (await registry.decode(message.value)) as Receipt;
        const where = coordinatesOf(receipt);
        bySource.set(where, [...(bySource.get(where) ?? []), receipt]);
      }
      next.set(partition, BigInt(message.offset) + 1n);
    },
  });
  return {
    bySource,
    /** True once every partition was read up to `ends` (high watermarks), within `timeoutMs`. */
    async caughtUp(ends: readonly { partition: number; high: string; low: string }[], timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      const done = () =>
        ends.every(
          (end) =>
            BigInt(end.high) <= BigInt(end.low) || (next.get(end.partition) ?? -1n) >= BigInt(end.high),
        );
      while (!done()) {
        if (Date.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return true;
    },
    stop: () => consumer.disconnect(),
  };
}
