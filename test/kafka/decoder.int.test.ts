import { createServer, type Server } from 'node:net';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isBridgeError } from '../../src/errors.ts';
import { createDecoder, createRegistryLookup } from '../../src/kafka/decoder.ts';
import { loadSchemaVersions, newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { uniqueName } from '../helpers/kafka.ts';

/** Against the real Apicurio ccompat API: how it answers decides poison versus transient. */
describe('decoder against the registry', () => {
  const services = inject('services');
  const lookup = createRegistryLookup({ url: services.schemaRegistryUrl, timeoutMs: 2_000 });
  const decoder = createDecoder({ lookup, reader: newestSchema().type, maxRecordBytes: 1_048_576 });
  const servers: Server[] = [];

  afterAll(() => {
    for (const server of servers) server.close();
  });

  const frame = (id: number, payload: Buffer) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, payload]);
  };

  it('reads a v1-written record through the newest reader schema', async () => {
    const v1 = loadSchemaVersions()[0]!;
    const { id } = await lookup.registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v1.schema) },
      { subject: `${uniqueName('decoder')}-value` },
    );
    const event = makeSampleEvent(3, () => 0.3);
    const { sourceSystemVersion: _dropped, ...v1Event } = event as typeof event & {
      sourceSystemVersion?: unknown;
    };
    const result = await decoder.decode(frame(id, v1.type.toBuffer(v1Event)));
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.event.eventId).toBe(event.eventId);
      expect((result.event as { sourceSystemVersion?: unknown }).sourceSystemVersion).toBeNull();
    }
  });

  it('classifies poison: not framed, unknown schema id (404/40403), undecodable bytes', async () => {
    const notFramed = await decoder.decode(Buffer.from('{"json":true}'));
    expect(notFramed.ok === false && notFramed.error.code).toBe('NOT_CONFLUENT_FRAMED');
    const tombstone = await decoder.decode(null);
    expect(tombstone.ok === false && tombstone.error.code).toBe('NOT_CONFLUENT_FRAMED');

    const unknown = await decoder.decode(frame(2_000_000_000, Buffer.from([2, 4])));
    expect(unknown.ok === false && unknown.error.code).toBe('UNKNOWN_SCHEMA_ID');

    const { id } = await lookup.registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(newestSchema().schema) },
      { subject: `${uniqueName('decoder')}-value` },
    );
    const garbage = await decoder.decode(frame(id, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01])));
    expect(garbage.ok === false && garbage.error.code).toBe('AVRO_DECODE_FAILED');
  });

  it('treats a refused connection, a hung registry and a wrong base path as transient, never poison', async () => {
    const hung = createServer(() => {}).listen(0, '127.0.0.1');
    servers.push(hung);
    await new Promise((resolve) => hung.once('listening', resolve));
    const port = (hung.address() as { port: number }).port;
    const urls = [
      'http://127.0.0.1:1',
      `http://127.0.0.1:${port}`,
      services.schemaRegistryUrl.replace(/ccompat\/v7$/, 'nothing'),
    ];
    for (const url of urls) {
      const down = createDecoder({
        lookup: createRegistryLookup({ url, timeoutMs: 500 }),
        reader: newestSchema().type,
        maxRecordBytes: 1_048_576,
      });
      const failure = await down.decode(frame(1, Buffer.from([0]))).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isBridgeError(failure) && failure.code, url).toBe('REGISTRY_UNAVAILABLE');
    }
  });

  it('remembers a confirmed unknown id for a while instead of asking the registry per record', async () => {
    let confirmations = 0;
    let clock = 0;
    const counting = createDecoder({
      lookup: createRegistryLookup({
        url: services.schemaRegistryUrl,
        timeoutMs: 2_000,
        now: () => clock,
        unknownIdTtlMs: 1_000,
        fetch: (input, init) => {
          confirmations += 1;
          return fetch(input, init);
        },
      }),
      reader: newestSchema().type,
      maxRecordBytes: 1_048_576,
    });
    const record = frame(2_000_000_001, Buffer.from([2]));
    for (let i = 0; i < 3; i++) {
      const result = await counting.decode(record);
      expect(result.ok === false && result.error.code).toBe('UNKNOWN_SCHEMA_ID');
    }
    expect(confirmations).toBe(1);
    clock = 1_001;
    await counting.decode(record);
    expect(confirmations).toBe(2);
  });
});
