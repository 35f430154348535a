import { describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/errors.ts';
import type { OutgoingMessage } from '../../src/kafka/batched-producer.ts';
import { HaltState } from '../../src/kafka/halt-state.ts';
import { receiptType } from '../../src/receipts/receipt.ts';
import { createReceiptWriter, receiptsTopicConfig } from '../../src/receipts/writer.ts';

const record = {
  topic: 'orders',
  partition: 0,
  offset: '5',
  timestamp: '1767225600000',
  key: Buffer.from('person@example.com'),
  value: Buffer.from('the body'),
};

function writerWith(register: (subject: string) => Promise<number>) {
  const sent: OutgoingMessage[] = [];
  const writer = createReceiptWriter({
    producer: {
      topic: 'orders.receipts',
      halts: new HaltState('receipts', () => 0),
      send: async (message) => void sent.push(message),
    },
    register,
    context: { bridgeVersion: '1.0.0', deadLetterTopic: 'orders.dlq' },
  });
  return { writer, sent };
}

describe('receipt writer', () => {
  it('registers the schema under <topic>-value once and frames each receipt with its id, keyed by eventId', async () => {
    const subjects: string[] = [];
    const { writer, sent } = writerWith(async (subject) => {
      subjects.push(subject);
      return 42;
    });
    await writer.prepare();
    await writer.write(
      record,
      { outcome: 'delivered', eventId: 'evt-1', status: 200, attempts: 1 },
      {
        firstAttemptAt: 1,
        settledAt: 2,
      },
    );
    await writer.write(
      record,
      { outcome: 'duplicate', eventId: 'evt-2', status: 409, attempts: 1 },
      {
        firstAttemptAt: 1,
        settledAt: 2,
      },
    );
    expect(subjects).toEqual(['orders.receipts-value']);
    expect(sent.map((message) => String(message.key))).toEqual(['evt-1', 'evt-2']);
    const value = sent[0]!.value as Buffer;
    expect(value.readInt32BE(1)).toBe(42);
    expect(receiptType().fromBuffer(value.subarray(5))).toMatchObject({
      eventId: 'evt-1',
      outcome: 'DELIVERED',
    });
    // The source record's key and value (person data, the body) are never copied.
    for (const message of sent) {
      const bytes = Buffer.concat([Buffer.from(String(message.key)), message.value as Buffer]);
      expect(bytes.includes('person@example.com')).toBe(false);
      expect(bytes.includes('the body')).toBe(false);
      expect(message.headers).toBeUndefined();
    }
  });

  it('asks the registry again after a failed registration instead of remembering the failure', async () => {
    let calls = 0;
    const { writer, sent } = writerWith(async () => {
      calls += 1;
      if (calls === 1) throw new BridgeError('REGISTRY_UNAVAILABLE', 'down');
      return 7;
    });
    await expect(writer.prepare()).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    await writer.write(
      record,
      { outcome: 'dead-lettered', reason: 'GONG_INVALID', attempts: 0 },
      {
        firstAttemptAt: 1,
        settledAt: 2,
      },
    );
    expect(calls).toBe(2);
    expect(sent).toHaveLength(1);
  });

  it('creates a plain (not compacted) topic: every receipt of a repeat is kept for the retention', () => {
    expect(receiptsTopicConfig).toContainEqual({ name: 'cleanup.policy', value: 'delete' });
  });
});
