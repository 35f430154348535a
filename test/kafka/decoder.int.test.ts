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
  // No window for unknown ids here: the window has a test of its own below.
  const lookup = createRegistryLookup({
    url: services.schemaRegistryUrl,
    timeoutMs: 2_000,
    unknownIdRetryMs: 0,
  });
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

  it('once an id is confirmed unknown, asks about it once per recheck interval, not per record', async () => {
    let confirmations = 0;
    let clock = 0;
    const counting = createDecoder({
      lookup: createRegistryLookup({
        url: services.schemaRegistryUrl,
        timeoutMs: 2_000,
        now: () => clock,
        unknownIdRetryMs: 0,
        unknownIdRecheckMs: 1_000,
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

  /** Registers through the ccompat API directly: any schema type, and content avsc would refuse. */
  async function registerRaw(schemaType: 'AVRO' | 'JSON' | 'PROTOBUF', schema: string): Promise<number> {
    const response = await fetch(
      `${services.schemaRegistryUrl}/subjects/${uniqueName('decoder')}-value/versions`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schemaType, schema }),
      },
    );
    const body = (await response.json()) as { id?: number; message?: string };
    if (body.id === undefined) throw new Error(`registering ${schemaType} failed: ${body.message}`);
    return body.id;
  }

  /** Resolves with the failure code, whether the decoder returned poison or threw. */
  const outcome = async (value: Buffer, using = decoder) => {
    const result = await using.decode(value).catch((error: unknown) => error);
    if (isBridgeError(result)) return `threw ${result.code}`;
    const decoded = result as Awaited<ReturnType<typeof decoder.decode>>;
    return decoded.ok ? 'ok' : `poison ${decoded.error.code}`;
  };

  // Issue 13 §3: these were rethrown (SCHEMA_INCOMPATIBLE, REGISTRY_UNAVAILABLE) and retried for
  // ever by the runtime, with no dead letter and no commit.
  it('dead-letters a JSON Schema id and a Protobuf id as SCHEMA_NOT_AVRO, without retrying', async () => {
    const json = await registerRaw(
      'JSON',
      JSON.stringify({ type: 'object', properties: { a: { type: 'string' } } }),
    );
    const proto = await registerRaw(
      'PROTOBUF',
      `syntax = "proto3";\nmessage ${uniqueName('M').replace(/-/g, '_')} { string url = 1; }\n`,
    );
    expect(await outcome(frame(json, Buffer.from('{"a":"x"}')))).toBe('poison SCHEMA_NOT_AVRO');
    expect(await outcome(frame(proto, Buffer.from([0x0a, 0x01, 0x78])))).toBe('poison SCHEMA_NOT_AVRO');
  });

  it('dead-letters an Avro schema avsc refuses (a union default that is not its first branch) as SCHEMA_UNPARSEABLE', async () => {
    const name = uniqueName('Bad').replace(/-/g, '_');
    const id = await registerRaw(
      'AVRO',
      JSON.stringify({
        type: 'record',
        name,
        fields: [{ name: 'n', type: ['null', 'string'], default: 'x' }],
      }),
    );
    expect(await outcome(frame(id, Buffer.from([0])))).toBe('poison SCHEMA_UNPARSEABLE');
  });

  it('asks again for an id the registry does not know yet, decodes it once it is registered, and dead-letters it only after the window', async () => {
    let clock = 0;
    const patient = createDecoder({
      lookup: createRegistryLookup({
        url: services.schemaRegistryUrl,
        timeoutMs: 2_000,
        now: () => clock,
        unknownIdRetryMs: 30_000,
      }),
      reader: newestSchema().type,
      maxRecordBytes: 1_048_576,
    });
    // The id a new registration will get next (Apicurio numbers content sequentially): a record
    // written with it reached us before the registry we ask had it, as behind a lagging follower.
    const probeId = await registerRaw(
      'AVRO',
      JSON.stringify({ ...(newestSchema().schema as object), doc: uniqueName('probe') }),
    );
    const nextId = probeId + 1;
    const event = makeSampleEvent(5, () => 0.5);
    const record = frame(nextId, newestSchema().type.toBuffer(event));
    expect(await outcome(record, patient)).toBe('threw SCHEMA_ID_NOT_FOUND_YET');
    clock = 10_000;
    expect(await outcome(record, patient)).toBe('threw SCHEMA_ID_NOT_FOUND_YET');
    expect(
      await registerRaw(
        'AVRO',
        JSON.stringify({ ...(newestSchema().schema as object), doc: uniqueName('late') }),
      ),
    ).toBe(nextId);
    expect(await outcome(record, patient)).toBe('ok');

    // An id that never appears is dead-lettered once the window has passed, not before.
    const never = frame(2_000_000_002, Buffer.from([2]));
    clock = 100_000;
    expect(await outcome(never, patient)).toBe('threw SCHEMA_ID_NOT_FOUND_YET');
    clock = 129_999;
    expect(await outcome(never, patient)).toBe('threw SCHEMA_ID_NOT_FOUND_YET');
    clock = 130_000;
    expect(await outcome(never, patient)).toBe('poison UNKNOWN_SCHEMA_ID');
  });
});
