import type { IHeaders } from 'kafkajs';
import { BridgeError } from '../errors.ts';

/** The parts of a consumed record that count toward its size. */
export interface SizedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders | undefined;
}

/**
 * Bytes of key, value and headers (names and values), which is what the record will cost again
 * when it is copied to the dead-letter topic. Counting only the value would let a record with a
 * huge key or headers through, only for its dead letter to exceed the DLQ topic's
 * max.message.bytes and block the partition behind a write that can never succeed.
 */
export function recordBytes(record: Pick<SizedRecord, 'key' | 'value' | 'headers'>): number {
  let total = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    total += Buffer.byteLength(name);
    const values = Array.isArray(value) ? value : [value];
    for (const one of values) {
      if (one === undefined) continue;
      total += typeof one === 'string' ? Buffer.byteLength(one) : one.length;
    }
  }
  return total;
}

/**
 * RECORD_TOO_LARGE when the record exceeds MAX_RECORD_BYTES, before it is decoded, so a
 * multi-megabyte record costs neither an Avro decode nor a registry lookup. Pure: the runtime
 * dead-letters what this returns.
 */
export function checkRecordSize(record: SizedRecord, maxRecordBytes: number): BridgeError | undefined {
  const size = recordBytes(record);
  if (size <= maxRecordBytes) return undefined;
  return new BridgeError(
    'RECORD_TOO_LARGE',
    `the record is ${size} bytes (key, value and headers), more than MAX_RECORD_BYTES (${maxRecordBytes})`,
    { context: { topic: record.topic, partition: record.partition, offset: record.offset } },
  );
}
