import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadSchemaVersions } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

/**
 * Proves the stack is real: a schema registered through @kafkajs/confluent-schema-registry in
 * Apicurio's Confluent-compatible API, a record produced with kafkajs to a real broker, then
 * consumed and decoded back. CI runs it against both Kafka lines (KAFKA_LINE=4 and 3).
 */
describe('local stack smoke test', () => {
  const services = inject('services');
  const kafka = testKafka();
  const admin = kafka.admin();
  const topic = uniqueName('smoke');
  const registry = new SchemaRegistry({ host: services.schemaRegistryUrl });
  let dropTopics: () => Promise<void> = async () => {};

  beforeAll(async () => {
    await admin.connect();
    dropTopics = await createTopics(admin, [topic], 1);
  });

  afterAll(async () => {
    await dropTopics();
    await admin.disconnect();
  });

  it('registers, produces, consumes and decodes an Avro record', async () => {
    const newest = loadSchemaVersions().at(-1);
    if (newest === undefined) throw new Error('no schema versions');
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(newest.schema) },
      { subject: `${topic}-value` },
    );
    expect(id).toBeGreaterThan(0);

    const event = makeSampleEvent(1, () => 0.42);
    const value = await registry.encode(id, event);
    // Confluent framing: magic byte 0, then the 4-byte big-endian schema id.
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(id);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: event.eventId, value }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const decoded = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record consumed within 30 s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(await registry.decode(message.value ?? Buffer.alloc(0)));
        },
      });
    });
    await consumer.disconnect();

    expect(decoded).toMatchObject({ eventId: event.eventId, eventType: event.eventType });
  });
});
