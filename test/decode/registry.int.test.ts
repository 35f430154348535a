import { createServer, type Server } from 'node:net';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isBridgeError } from '../../src/errors.ts';
import { inputFormats } from '../../src/decode/formats/index.ts';
import { loadMappings } from '../../src/mapping/index.ts';
import { createRecordPreparer, type RecordPreparer } from '../../src/decode/prepare.ts';
import { createRegistryLookup, type SchemaSource } from '../../src/decode/registry.ts';
import { validateGongBody } from '../../src/gong/validate.ts';
import { loadSchemaVersions, newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { uniqueName } from '../helpers/kafka.ts';
import { registerSchema } from '../helpers/registry.ts';
import { loadWorkedExamples, mappingsFile, wireRecord } from '../mapping/worked-examples.ts';

/** The canonical Avro path of the preparer over a lookup: what `run` does for an avro topic. */
function createDecoder(options: { lookup: SchemaSource; maxRecordBytes: number; reader?: unknown }) {
  const preparer: RecordPreparer = createRecordPreparer({
    formats: new Map(),
    defaultFormat: inputFormats.avro,
    registry: options.lookup,
    validate: validateGongBody,
    maxRecordBytes: options.maxRecordBytes,
  });
  return { decode: (value: Buffer | null) => preparer.prepare({ topic: 'interactions', value }) };
}

/** Against the real Apicurio ccompat API: how it answers decides poison versus transient. */
describe('registry lookup and the decoders against the registry', () => {
  const services = inject('services');
  // No window for unknown ids here: the window has a test of its own below.
  const lookup = createRegistryLookup({
    url: services.schemaRegistryUrl,
    timeoutMs: 2_000,
    unknownIdRetryMs: 0,
  });
  const decoder = createDecoder({ lookup, maxRecordBytes: 1_048_576 });
  const registry = new SchemaRegistry({ host: services.schemaRegistryUrl });
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
    const { id } = await registry.register(
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
      expect(result.body.eventId).toBe(event.eventId);
      expect(result.body.sourceSystemName).toBe(event.sourceSystemName);
    }
  });

  it('classifies poison: not framed, unknown schema id (404/40403), undecodable bytes', async () => {
    const notFramed = await decoder.decode(Buffer.from('{"json":true}'));
    expect(notFramed.ok === false && notFramed.deadLetter.reason).toBe('NOT_CONFLUENT_FRAMED');
    const tombstone = await decoder.decode(null);
    expect(tombstone.ok === false && tombstone.deadLetter.reason).toBe('NOT_CONFLUENT_FRAMED');

    const unknown = await decoder.decode(frame(2_000_000_000, Buffer.from([2, 4])));
    expect(unknown.ok === false && unknown.deadLetter.reason).toBe('UNKNOWN_SCHEMA_ID');

    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(newestSchema().schema) },
      { subject: `${uniqueName('decoder')}-value` },
    );
    const garbage = await decoder.decode(frame(id, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01])));
    expect(garbage.ok === false && garbage.deadLetter.reason).toBe('AVRO_DECODE_FAILED');
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
      expect(result.ok === false && result.deadLetter.reason).toBe('UNKNOWN_SCHEMA_ID');
    }
    expect(confirmations).toBe(1);
    clock = 1_001;
    await counting.decode(record);
    expect(confirmations).toBe(2);
  });

  /** Registers through the ccompat API directly: any schema type, and content avsc would refuse. */
  const registerRaw = (schemaType: 'AVRO' | 'JSON' | 'PROTOBUF', schema: string) =>
    registerSchema(services.schemaRegistryUrl, `${uniqueName('decoder')}-value`, { schemaType, schema });

  /** Resolves with the failure code, whether the decoder returned poison or threw. */
  const outcome = async (value: Buffer, using = decoder) => {
    const result = await using.decode(value).catch((error: unknown) => error);
    if (isBridgeError(result)) return `threw ${result.code}`;
    const decoded = result as Awaited<ReturnType<typeof decoder.decode>>;
    return decoded.ok ? 'ok' : `poison ${decoded.deadLetter.reason}`;
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

  it('decodes and maps the three worked examples registered in the registry, each on a topic of its format', async () => {
    const examples = loadWorkedExamples();
    const preparer = createRecordPreparer({
      formats: new Map(examples.map((example) => [example.topic, inputFormats[example.format]])),
      defaultFormat: inputFormats.avro,
      registry: lookup,
      mappings: loadMappings(mappingsFile),
      validate: validateGongBody,
      maxRecordBytes: 1_048_576,
    });
    for (const example of examples) {
      const id = await registerSchema(services.schemaRegistryUrl, `${uniqueName(example.mapping)}-value`, {
        schemaType: example.schemaType,
        schema: example.schemaText,
      });
      const bodies = [];
      for (const event of example.events) {
        const prepared = await preparer.prepare({
          topic: example.topic,
          value: wireRecord(example, id, event),
        });
        bodies.push(prepared.ok ? prepared.body : prepared.deadLetter);
      }
      expect(bodies, example.mapping).toEqual(example.bodies);
    }
  });

  it('resolves schema references: a .proto importing another registered file, an Avro record using a type registered apart', async () => {
    const commonSubject = uniqueName('acme-common');
    await registerSchema(services.schemaRegistryUrl, commonSubject, {
      schemaType: 'PROTOBUF',
      schema:
        'syntax = "proto3";\npackage acme.common;\nmessage Page { string url = 1; string title = 2; }\n',
    });
    const protoId = await registerSchema(services.schemaRegistryUrl, `${uniqueName('acme-view')}-value`, {
      schemaType: 'PROTOBUF',
      schema:
        'syntax = "proto3";\npackage acme.web;\nimport "acme/common/page.proto";\nmessage View { string id = 1; acme.common.Page page = 2; }\n',
      references: [{ name: 'acme/common/page.proto', subject: commonSubject, version: 1 }],
    });
    const schema = await lookup.schema(protoId);
    expect(schema.references.map((reference) => reference.subject)).toEqual([commonSubject]);
    const writer = inputFormats.protobuf.writer!(schema, protoId);
    const decoded = writer.fromJson('{"id":"v-1","page":{"url":"https://acme.example/","title":"Home"}}');
    expect(decoded.ok && decoded.decoded).toEqual({
      record: 'acme.web.View',
      event: { id: 'v-1', page: { url: 'https://acme.example/', title: 'Home' } },
    });

    const placeSubject = uniqueName('acme-place');
    await registerSchema(services.schemaRegistryUrl, placeSubject, {
      schemaType: 'AVRO',
      schema: JSON.stringify({
        type: 'record',
        name: 'acme.geo.Place',
        fields: [{ name: 'country', type: 'string' }],
      }),
    });
    const avroId = await registerSchema(services.schemaRegistryUrl, `${uniqueName('acme-visit')}-value`, {
      schemaType: 'AVRO',
      schema: JSON.stringify({
        type: 'record',
        name: 'acme.geo.Visit',
        fields: [{ name: 'place', type: 'acme.geo.Place' }],
      }),
      references: [{ name: 'acme.geo.Place', subject: placeSubject, version: 1 }],
    });
    const visit = inputFormats.avro.writer!(await lookup.schema(avroId), avroId);
    expect(visit.knownFields()?.root).toMatchObject({
      kind: 'record',
      fields: new Map([['place', expect.objectContaining({ kind: 'record' })]]),
    });
  });

  it('lists the subjects of an id and gives the newest version of a subject, or undefined for none', async () => {
    const subject = `${uniqueName('latest')}-value`;
    // Content of its own: a registry gives the same content the same id under every subject.
    const first = await registerSchema(services.schemaRegistryUrl, subject, {
      schemaType: 'JSON',
      schema: JSON.stringify({ title: subject, type: 'object', properties: { a: { type: 'string' } } }),
    });
    expect(await lookup.subjects(first)).toEqual([subject]);
    const second = await registerSchema(services.schemaRegistryUrl, subject, {
      schemaType: 'JSON',
      schema: JSON.stringify({
        title: subject,
        type: 'object',
        properties: { a: { type: 'string' }, b: { type: 'string' } },
      }),
    });
    expect(await lookup.latest(subject)).toMatchObject({
      id: second,
      subject,
      version: 2,
      schemaType: 'JSON',
    });
    expect(await lookup.latest(`${uniqueName('never')}-value`)).toBeUndefined();
  });
});
