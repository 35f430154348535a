import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../src/errors.ts';
import {
  createDlqWriter,
  deadLetterHeaders,
  dlqHeaders,
  readDeadLetterHeaders,
  type SourceRecord,
} from '../../src/kafka/dlq.ts';

const record: SourceRecord = {
  topic: 'interactions',
  partition: 2,
  offset: '41',
  timestamp: '1764000000000',
  key: Buffer.from('evt-1'),
  value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]),
  headers: { traceparent: '00-abc-def-01', 'gong-bridge.reason': 'STALE' },
};

describe('dead-letter headers', () => {
  it('keeps the original headers, replaces stale gong-bridge.* ones and adds every documented one', () => {
    const headers = deadLetterHeaders(
      record,
      {
        reason: 'GONG_REJECTED',
        message: 'Gong answered 400',
        status: 400,
        errors: ['content.contentTitle: required'],
        requestId: 'req-9',
        eventId: 'evt-1',
        schemaId: 7,
        attempts: 2,
        inferredRules: ['numeric-value-in-range', 'custom-field-value-type'],
      },
      '1.2.3',
      Date.UTC(2026, 10, 24),
    );
    expect(headers.traceparent).toBe('00-abc-def-01');
    const ours = readDeadLetterHeaders(headers);
    expect(ours).toEqual({
      'gong-bridge.reason': 'GONG_REJECTED',
      'gong-bridge.message': 'Gong answered 400',
      'gong-bridge.http-status': '400',
      'gong-bridge.errors': '["content.contentTitle: required"]',
      'gong-bridge.request-id': 'req-9',
      'gong-bridge.inferred-rules': 'numeric-value-in-range,custom-field-value-type',
      'gong-bridge.event-id': 'evt-1',
      'gong-bridge.schema-id': '7',
      'gong-bridge.source-topic': 'interactions',
      'gong-bridge.source-partition': '2',
      'gong-bridge.source-offset': '41',
      'gong-bridge.source-timestamp': '1764000000000',
      'gong-bridge.attempts': '2',
      'gong-bridge.bridge-version': '1.2.3',
      'gong-bridge.dead-lettered-at': '2026-11-24T00:00:00.000Z',
    });
    // Every header the code writes is in the documented list, and vice versa.
    expect(Object.keys(ours).sort()).toEqual(dlqHeaders.map((entry) => entry.name).sort());
    for (const entry of dlqHeaders) expect(entry.doc.length).toBeGreaterThan(10);
  });
});

describe('DLQ writer', () => {
  it('sends key and value bytes unchanged with acks=all', async () => {
    const sent: unknown[] = [];
    const writer = createDlqWriter({
      producer: { send: async (payload) => (sent.push(payload), []) },
      topic: 'interactions.dlq',
      version: '0.1.0',
      sleep: async () => {},
      wallNow: () => 0,
    });
    await writer.write(record, { reason: 'AVRO_DECODE_FAILED', message: 'truncated' });
    expect(sent).toHaveLength(1);
    const payload = sent[0] as { topic: string; acks: number; messages: { key: Buffer; value: Buffer }[] };
    expect(payload.topic).toBe('interactions.dlq');
    expect(payload.acks).toBe(-1);
    expect(payload.messages[0]!.key).toBe(record.key);
    expect(payload.messages[0]!.value).toBe(record.value);
  });

  it('retries a failed write with backoff until it is acknowledged, never skipping it', async () => {
    let calls = 0;
    const sleeps: number[] = [];
    const failures: number[] = [];
    const writer = createDlqWriter({
      producer: {
        send: async () => {
          calls += 1;
          if (calls < 5) throw new Error('NOT_ENOUGH_REPLICAS');
          return [];
        },
      },
      topic: 'dlq',
      version: '0.1.0',
      sleep: async (ms) => void sleeps.push(ms),
      wallNow: () => 0,
      retryBaseMs: 100,
      retryMaxMs: 500,
      onWriteFailed: (failure) => failures.push(failure.attempt),
    });
    await writer.write(record, { reason: 'GONG_INVALID', message: 'x' });
    expect(calls).toBe(5);
    expect(sleeps).toEqual([100, 200, 400, 500]);
    expect(failures).toEqual([1, 2, 3, 4]);
  });

  it('gives up only when aborted, with SHUTTING_DOWN so the offset is not committed', async () => {
    const controller = new AbortController();
    const writer = createDlqWriter({
      producer: {
        send: async () => {
          throw new Error('broker down');
        },
      },
      topic: 'dlq',
      version: '0.1.0',
      sleep: async (_ms, signal) => {
        controller.abort();
        signal?.throwIfAborted();
      },
      wallNow: () => 0,
    });
    const error = await writer
      .write(record, { reason: 'GONG_INVALID', message: 'x' }, controller.signal)
      .catch((caught: unknown) => caught);
    expect(isBridgeError(error) && error.code).toBe('SHUTTING_DOWN');
  });
});
