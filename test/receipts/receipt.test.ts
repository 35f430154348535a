import { describe, expect, it } from 'vitest';
import {
  buildReceipt,
  encodeReceipt,
  outcomeOf,
  receiptIdMaxBytes,
  receiptKey,
  receiptSchema,
  receiptType,
  type Settlement,
} from '../../src/receipts/receipt.ts';
import { flattenSchema } from '../../scripts/docs/event-schema.ts';

const record = { topic: 'orders', partition: 2, offset: '41', timestamp: '1767225600000' };
const times = { firstAttemptAt: 1_767_225_600_100, settledAt: 1_767_225_600_350 };
const context = { bridgeVersion: '1.2.3', deadLetterTopic: 'orders.dlq' };

describe('receipts', () => {
  it('a delivered record: outcome, Gong status, requestId, attempts, times and source coordinates', () => {
    const settlement: Settlement = {
      outcome: 'delivered',
      eventId: 'evt-1',
      status: 200,
      requestId: 'req-9',
      attempts: 2,
      schemaId: 7,
    };
    expect(buildReceipt(record, settlement, times, context)).toEqual({
      eventId: 'evt-1',
      outcome: 'DELIVERED',
      deadLetterReason: null,
      deadLetterTopic: null,
      referenceLetter: false,
      httpStatus: 200,
      requestId: 'req-9',
      attempts: 2,
      firstAttemptAt: times.firstAttemptAt,
      settledAt: times.settledAt,
      source: { topic: 'orders', partition: 2, offset: 41, timestamp: 1_767_225_600_000 },
      schemaId: 7,
      bridgeVersion: '1.2.3',
    });
  });

  it('a dead-lettered record names its reason and the dead-letter topic; one without an eventId is keyed by its source', () => {
    const receipt = buildReceipt(
      record,
      { outcome: 'dead-lettered', reason: 'NOT_CONFLUENT_FRAMED', attempts: 0, referenceLetter: true },
      times,
      context,
    );
    expect(receipt).toMatchObject({
      eventId: null,
      outcome: 'DEAD_LETTERED',
      deadLetterReason: 'NOT_CONFLUENT_FRAMED',
      deadLetterTopic: 'orders.dlq',
      referenceLetter: true,
      httpStatus: null,
      requestId: null,
      attempts: 0,
    });
    expect(receiptKey(receipt)).toBe('orders/2/41');
  });

  it('is keyed by eventId; an eventId longer than 1 KiB is left out and the source keys it', () => {
    const delivered = (eventId: string) =>
      buildReceipt(record, { outcome: 'duplicate', eventId, status: 409, attempts: 1 }, times, context);
    expect(receiptKey(delivered('evt-2'))).toBe('evt-2');
    const long = delivered('x'.repeat(receiptIdMaxBytes + 1));
    expect(long.eventId).toBeNull();
    expect(receiptKey(long)).toBe('orders/2/41');
    expect(delivered('é'.repeat(receiptIdMaxBytes / 2)).eventId).toHaveLength(receiptIdMaxBytes / 2);
  });

  it('is Confluent-framed Avro that reads back through the schema', () => {
    const receipt = buildReceipt(
      record,
      {
        outcome: 'dead-lettered',
        reason: 'GONG_REJECTED',
        eventId: 'e',
        status: 400,
        requestId: 'r',
        attempts: 1,
      },
      times,
      context,
    );
    const framed = encodeReceipt(receipt, 1234);
    expect(framed[0]).toBe(0);
    expect(framed.readInt32BE(1)).toBe(1234);
    expect(receiptType().fromBuffer(framed.subarray(5))).toEqual(receipt);
    expect(outcomeOf('DEAD_LETTERED')).toBe('dead-lettered');
    // Larger than the encoder's scratch buffer: it grows, and the frame is still whole.
    const large = { ...receipt, bridgeVersion: 'v'.repeat(10_000) };
    expect(receiptType().fromBuffer(encodeReceipt(large, 1).subarray(5))).toEqual(large);
    expect(outcomeOf('NOPE')).toBeUndefined();
  });

  it('documents every field, and carries ids, codes and times only: no field for a body, a person or a text', () => {
    const fields = flattenSchema(receiptSchema());
    expect(fields.filter((field) => field.doc === undefined).map((field) => field.path)).toEqual([]);
    expect(fields.map((field) => field.path)).toEqual([
      'eventId',
      'outcome',
      'deadLetterReason',
      'deadLetterTopic',
      'referenceLetter',
      'httpStatus',
      'requestId',
      'attempts',
      'firstAttemptAt',
      'settledAt',
      'source',
      'source.topic',
      'source.partition',
      'source.offset',
      'source.timestamp',
      'schemaId',
      'bridgeVersion',
    ]);
  });
});
