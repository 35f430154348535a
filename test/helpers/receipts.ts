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
