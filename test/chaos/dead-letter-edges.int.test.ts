import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.ts';
import type { ProducedSample } from '../../src/kafka/sample-producer.ts';
import { testKafka, uniqueName } from '../helpers/kafka.ts';
import { runScenario, type ScenarioContext } from './scenario.ts';

/**
 * Records whose dead letters used to stall their partition for ever (issue 13 §2, §3), mixed
 * into the usual traffic: one whose dead letter is larger than the dead-letter topic accepts,
 * and records framed with the ids of a JSON Schema and a Protobuf schema from the same registry.
 * The books must balance and every partition must commit to its end.
 */
describe('chaos: dead letters at the edges', () => {
  const kafka = testKafka();
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  /** Counts the bridges' dead letters with `reason`, from the moment the bridges run. */
  function reasonCounter(reason: ErrorCode) {
    let count = 0;
    return {
      during: async (context: ScenarioContext) => {
        for (const bridge of context.bridges ?? []) {
          bridge.graph.runtime.events.on('dead-lettered', (event) => {
            if (event.reason === reason) count += 1;
          });
        }
      },
      count: () => count,
    };
  }

  async function produce(kafkaClient: Kafka, topic: string, records: { key: string; value: Buffer }[]) {
    const producer = kafkaClient.producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: records });
    } finally {
      await producer.disconnect();
    }
  }

  it('an oversized dead letter becomes a reference letter and its partition moves on', async () => {
    const references = reasonCounter('DEAD_LETTER_TOO_LARGE');
    const key = uniqueName('oversized');
    const books = await runScenario({
      name: 'oversized-dead-letter',
      kafka,
      admin,
      // 1,048,400 random bytes, not Confluent-framed: under MAX_RECORD_BYTES and accepted by the
      // source topic, but with our headers more than the DLQ topic's default limit (the harness
      // creates it with the broker's defaults, as a platform team often does).
      extraRecords: async (kafkaClient, topic): Promise<ProducedSample[]> => {
        const value = randomBytes(1_048_400);
        value[0] = 0x7b;
        await produce(kafkaClient, topic, [{ key, value }]);
        return [{ key, kind: 'not-framed', expectedReason: 'DEAD_LETTER_TOO_LARGE' }];
      },
      during: references.during,
      faults: () => ({ oversizedBytes: 1_048_400, referenceLetters: references.count() }),
    });
    expect(references.count()).toBe(1);
    expect(books.bad).toBe(books.deadLettered);
  });

  it('records framed with a JSON Schema id and a Protobuf id are dead-lettered as SCHEMA_NOT_AVRO', async () => {
    const notAvro = reasonCounter('SCHEMA_NOT_AVRO');
    const registryUrl = inject('services').schemaRegistryUrl;
    const register = async (schemaType: 'JSON' | 'PROTOBUF', schema: string) => {
      const response = await fetch(`${registryUrl}/subjects/${uniqueName('foreign')}-value/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schemaType, schema }),
      });
      const body = (await response.json()) as { id?: number; message?: string };
      if (body.id === undefined) throw new Error(`registering ${schemaType} failed: ${body.message}`);
      return body.id;
    };
    const frame = (id: number, payload: Buffer) => {
      const header = Buffer.alloc(5);
      header.writeInt32BE(id, 1);
      return Buffer.concat([header, payload]);
    };
    const perType = 3;
    const books = await runScenario({
      name: 'non-avro-schema',
      kafka,
      admin,
      extraRecords: async (kafkaClient, topic): Promise<ProducedSample[]> => {
        const json = await register(
          'JSON',
          JSON.stringify({ type: 'object', properties: { url: { type: 'string' } } }),
        );
        const message = uniqueName('PageView').replace(/-/g, '_');
        const proto = await register(
          'PROTOBUF',
          `syntax = "proto3";\nmessage ${message} { string url = 1; }\n`,
        );
        const records = Array.from({ length: perType }, (_, i) => [
          { key: uniqueName(`json-${i}`), value: frame(json, Buffer.from('{"url":"https://example.com"}')) },
          // Confluent's Protobuf framing puts a message-index list before the payload; 0 = first.
          { key: uniqueName(`protobuf-${i}`), value: frame(proto, Buffer.from([0, 0x0a, 0x01, 0x78])) },
        ]).flat();
        await produce(kafkaClient, topic, records);
        return records.map(({ key }) => ({ key, kind: 'unknown-schema', expectedReason: 'SCHEMA_NOT_AVRO' }));
      },
      during: notAvro.during,
      faults: () => ({ nonAvroRecords: perType * 2, deadLetteredAsSchemaNotAvro: notAvro.count() }),
    });
    expect(notAvro.count()).toBe(perType * 2);
    expect(books.bad).toBe(books.deadLettered);
  });
});
