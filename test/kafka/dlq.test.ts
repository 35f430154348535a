import { describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/errors.ts';
import type { OutgoingMessage } from '../../src/kafka/batched-producer.ts';
import {
  createDlqWriter,
  deadLetterHeaders,
  dlqHeaders,
  dlqMaxMessageBytes,
  dlqOwnHeadersMaxBytes,
  dlqTopicConfig,
  ensureDlqTopic,
  readDeadLetterHeaders,
  referenceLetter,
  type SourceRecord,
} from '../../src/kafka/dlq.ts';
import { HaltState } from '../../src/kafka/halt-state.ts';
import { recordBytes } from '../../src/kafka/record-limits.ts';

const record: SourceRecord = {
  topic: 'interactions',
  partition: 2,
  offset: '41',
  timestamp: '1764000000000',
  key: Buffer.from('evt-1'),
  value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]),
  headers: { traceparent: '00-abc-def-01', 'gong-bridge.reason': 'STALE' },
};

const referenceOnly = new Set([
  'gong-bridge.original-reason',
  'gong-bridge.original-key-bytes',
  'gong-bridge.original-value-bytes',
  'gong-bridge.original-headers-bytes',
  'gong-bridge.original-headers-dropped',
]);

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
        mapping: 'web-page-view',
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
      'gong-bridge.mapping': 'web-page-view',
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
    expect(Object.keys(ours).sort()).toEqual(
      dlqHeaders
        .map((entry) => entry.name)
        .filter((name) => !referenceOnly.has(name))
        .sort(),
    );
    for (const entry of dlqHeaders) expect(entry.doc.length).toBeGreaterThan(10);
  });

  it('keeps our own headers within dlqOwnHeadersMaxBytes whatever Gong and validation say', () => {
    const headers = deadLetterHeaders(
      { ...record, headers: {} },
      {
        reason: 'GONG_REJECTED',
        message: 'm'.repeat(50_000),
        errors: Array.from({ length: 5_000 }, (_, i) => `field${i}: ${'x'.repeat(300)}`),
        requestId: 'r'.repeat(5_000),
        eventId: 'e'.repeat(5_000),
        mapping: 'm'.repeat(5_000),
      },
      '1.2.3',
      0,
    );
    const errors = JSON.parse(String(headers['gong-bridge.errors'])) as string[];
    expect(errors.at(-1)).toMatch(/^… \d+ more$/);
    expect(recordBytes({ key: null, value: null, headers })).toBeLessThanOrEqual(dlqOwnHeadersMaxBytes);
  });

  it('a reference letter has no value, every original header, the sizes and a reason of its own', () => {
    const letter = referenceLetter(
      record,
      { reason: 'AVRO_DECODE_FAILED', message: 'truncated', schemaId: 7 },
      '1.2.3',
      0,
      { originals: true, topic: 'interactions.dlq' },
    );
    expect(letter.value).toBeNull();
    expect(letter.key).toBe(record.key);
    expect(letter.headers?.traceparent).toBe('00-abc-def-01');
    const ours = readDeadLetterHeaders(letter.headers);
    expect(ours).toMatchObject({
      'gong-bridge.reason': 'DEAD_LETTER_TOO_LARGE',
      'gong-bridge.original-reason': 'AVRO_DECODE_FAILED',
      'gong-bridge.original-key-bytes': '5',
      'gong-bridge.original-value-bytes': '8',
      'gong-bridge.original-headers-bytes': String(
        recordBytes({ key: null, value: null, headers: record.headers }),
      ),
      'gong-bridge.schema-id': '7',
      'gong-bridge.source-topic': 'interactions',
      'gong-bridge.source-partition': '2',
      'gong-bridge.source-offset': '41',
    });
    expect(ours['gong-bridge.message']).toContain('interactions/2/41');
    expect(ours['gong-bridge.original-headers-dropped']).toBeUndefined();

    const bare = referenceLetter(record, { reason: 'AVRO_DECODE_FAILED', message: 'x' }, '1', 0, {
      originals: false,
      topic: 'interactions.dlq',
    });
    expect(bare.key).toBeNull();
    expect(bare.headers?.traceparent).toBeUndefined();
    expect(readDeadLetterHeaders(bare.headers)['gong-bridge.original-headers-dropped']).toBe('true');
  });

  it('a DLQ topic the bridge creates takes MAX_RECORD_BYTES plus our headers, compressed with gzip', () => {
    expect(dlqMaxMessageBytes(1_048_576)).toBeGreaterThanOrEqual(1_048_576 + dlqOwnHeadersMaxBytes + 1_000);
    expect(dlqTopicConfig(1_048_576)).toEqual([
      { name: 'max.message.bytes', value: String(dlqMaxMessageBytes(1_048_576)) },
      { name: 'compression.type', value: 'gzip' },
    ]);
  });
});

/** A stand-in for the batched producer that refuses messages above `limit` bytes. */
function sizeLimitedProducer(limit: number) {
  const sent: OutgoingMessage[] = [];
  return {
    sent,
    producer: {
      topic: 'interactions.dlq',
      halts: new HaltState('dlq', () => 0),
      async send(message: OutgoingMessage) {
        if (
          recordBytes({
            key: message.key as Buffer | null,
            value: message.value as Buffer | null,
            headers: message.headers,
          }) > limit
        ) {
          throw new BridgeError('PRODUCE_TOO_LARGE', 'too large');
        }
        sent.push(message);
      },
    },
  };
}

describe('DLQ writer', () => {
  it('sends key and value bytes unchanged', async () => {
    const { producer, sent } = sizeLimitedProducer(1_000_000);
    const writer = createDlqWriter({ producer, version: '0.1.0', wallNow: () => 0 });
    expect(await writer.write(record, { reason: 'AVRO_DECODE_FAILED', message: 'truncated' })).toEqual({
      reason: 'AVRO_DECODE_FAILED',
      reference: false,
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.key).toBe(record.key);
    expect(sent[0]!.value).toBe(record.value);
  });

  it('writes a reference letter for a dead letter the topic refuses for its size', async () => {
    const { producer, sent } = sizeLimitedProducer(2_000);
    const writer = createDlqWriter({ producer, version: '0.1.0', wallNow: () => 0 });
    const big = { ...record, value: Buffer.alloc(5_000) };
    expect(await writer.write(big, { reason: 'RECORD_TOO_LARGE', message: 'big' })).toEqual({
      reason: 'DEAD_LETTER_TOO_LARGE',
      reference: true,
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.value).toBeNull();
    expect(sent[0]!.key).toBe(record.key);
    expect(readDeadLetterHeaders(sent[0]!.headers)['gong-bridge.original-value-bytes']).toBe('5000');
  });

  it('drops the original key and headers when they alone are too large', async () => {
    const { producer, sent } = sizeLimitedProducer(2_000);
    const writer = createDlqWriter({ producer, version: '0.1.0', wallNow: () => 0 });
    const heavy = { ...record, headers: { trace: 'x'.repeat(3_000) } };
    expect(await writer.write(heavy, { reason: 'GONG_INVALID', message: 'x' })).toEqual({
      reason: 'DEAD_LETTER_TOO_LARGE',
      reference: true,
    });
    expect(sent[0]!.headers?.trace).toBeUndefined();
    expect(sent[0]!.key).toBeNull();
  });

  it('passes a refusal that is not about size to the caller', async () => {
    const writer = createDlqWriter({
      producer: {
        topic: 'dlq',
        halts: new HaltState('dlq', () => 0),
        send: async () => {
          throw new BridgeError('SHUTTING_DOWN', 'aborted');
        },
      },
      version: '0.1.0',
      wallNow: () => 0,
    });
    await expect(writer.write(record, { reason: 'GONG_INVALID', message: 'x' })).rejects.toMatchObject({
      code: 'SHUTTING_DOWN',
    });
  });
});

describe('ensureDlqTopic', () => {
  const retriable = Object.assign(new Error('This server does not host this topic-partition'), {
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    retriable: true,
  });

  it('takes a topic the broker created but whose leaders kafkajs stopped waiting for as created', async () => {
    const topics: string[] = [];
    const admin = {
      listTopics: async () => [...topics],
      createTopics: async ({ topics: wanted }: { topics: { topic: string }[] }) => {
        topics.push(...wanted.map((each) => each.topic));
        throw retriable;
      },
    };
    await expect(ensureDlqTopic(admin, 'in.dlq', 1_048_576)).resolves.toBe(true);
  });

  it('still fails when the topic is not there after a retriable error', async () => {
    const admin = {
      listTopics: async () => [],
      createTopics: async () => {
        throw retriable;
      },
    };
    await expect(ensureDlqTopic(admin, 'in.dlq', 1_048_576)).rejects.toThrow(
      'cannot create the dead-letter topic in.dlq',
    );
  });
});
