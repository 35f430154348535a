import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { inputFormats, type InputFormatName } from '../../src/decode/formats/index.ts';
import {
  createRecordPreparer,
  type PreparedRecord,
  type RecordPreparerOptions,
} from '../../src/decode/prepare.ts';
import type { RegistrySchema, SchemaSource } from '../../src/decode/registry.ts';
import { frameRecord } from '../../src/decode/wire.ts';
import { BridgeError, isBridgeError } from '../../src/errors.ts';
import {
  createGongBodyValidator,
  gongValidatorOptions,
  defaultValidationSettings,
  validateGongBody,
} from '../../src/gong/validate.ts';
import { compileMappings, loadMappings } from '../../src/mapping/index.ts';
import { loadSchemaVersions, newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { loadWorkedExamples, mappingsFile, wireRecord } from '../mapping/worked-examples.ts';

/**
 * The preparer with an in-memory registry: every record ends as a body or a dead letter with its
 * reason; only what decode-policy.ts retries is thrown. No Kafka, no HTTP.
 */

const examples = loadWorkedExamples();
const [pageView, signup, video] = examples as [
  (typeof examples)[0],
  (typeof examples)[0],
  (typeof examples)[0],
];

/** Schema ids of the in-memory registry. */
const ids = {
  pageView: 11,
  signup: 12,
  video: 13,
  canonical: 20,
  otherProto: 14,
  unparseable: 15,
  click: 16,
};

function memoryRegistry(extra: Record<number, RegistrySchema> = {}, subjects: Record<number, string[]> = {}) {
  const calls: string[] = [];
  const schemas: Record<number, RegistrySchema> = {
    [ids.pageView]: { schemaType: 'AVRO', schema: pageView.schemaText, references: [] },
    [ids.signup]: { schemaType: 'JSON', schema: signup.schemaText, references: [] },
    [ids.video]: { schemaType: 'PROTOBUF', schema: video.schemaText, references: [] },
    [ids.canonical]: { schemaType: 'AVRO', schema: JSON.stringify(newestSchema().schema), references: [] },
    ...extra,
  };
  const source: SchemaSource = {
    async schema(id) {
      calls.push(`schema ${id}`);
      if (id === 503) throw new BridgeError('REGISTRY_UNAVAILABLE', 'down');
      const schema = schemas[id];
      if (schema === undefined) throw new BridgeError('UNKNOWN_SCHEMA_ID', `no schema ${id}`);
      return schema;
    },
    async subjects(id) {
      calls.push(`subjects ${id}`);
      return subjects[id] ?? [];
    },
  };
  return { source, calls };
}

const topics: Record<string, InputFormatName> = {
  [pageView.topic]: 'avro',
  [signup.topic]: 'json-schema',
  [video.topic]: 'protobuf',
  'product.signups.plain': 'json',
  interactions: 'avro',
};

function preparer(overrides: Partial<RecordPreparerOptions> = {}, registry = memoryRegistry().source) {
  return createRecordPreparer({
    formats: new Map(Object.entries(topics).map(([topic, name]) => [topic, inputFormats[name]])),
    defaultFormat: inputFormats.avro,
    registry,
    mappings: loadMappings(mappingsFile),
    validate: validateGongBody,
    maxRecordBytes: 1 << 20,
    ...overrides,
  });
}

const reasonOf = (prepared: PreparedRecord) => (prepared.ok ? 'ok' : prepared.deadLetter.reason);

describe('record preparer: the worked examples', () => {
  it.each([
    [pageView.mapping, pageView, ids.pageView],
    [signup.mapping, signup, ids.signup],
    [video.mapping, video, ids.video],
  ] as const)(
    'maps every %s sample in the Confluent wire format to the body Gong receives',
    async (_, example, schemaId) => {
      const prepare = preparer();
      for (const [index, event] of example.events.entries()) {
        const prepared = await prepare.prepare({
          topic: example.topic,
          value: wireRecord(example, schemaId, event),
        });
        expect(prepared).toEqual({
          ok: true,
          body: example.bodies[index],
          ids: {
            schemaId,
            mapping: example.mapping,
            eventId: (example.bodies[index] as { eventId: string }).eventId,
          },
        });
      }
    },
  );

  it('maps schemaless JSON signups on a json topic (mapped by topic, no registry, no record name)', async () => {
    const mappings = compileMappings(
      `version: 1\nmappings:\n  - name: plain-signups\n    match: { topics: product.signups.plain }\n    body: ${JSON.stringify(
        '{"eventId": signupId, "timestamp": $timestamp(createdAt), "eventType": "signed up", "content": {"contentTitle": plan}}',
      )}\n`,
      { file: 'inline.yaml' },
    );
    const prepare = preparer({ mappings, registry: undefined });
    const prepared = await prepare.prepare({
      topic: 'product.signups.plain',
      value: Buffer.from(JSON.stringify(signup.events[0])),
    });
    expect(prepared).toEqual({
      ok: true,
      body: {
        eventId: 'su-2001',
        timestamp: '2026-01-05T08:30:00.250Z',
        eventType: 'signed up',
        content: { contentTitle: 'team' },
      },
      ids: { mapping: 'plain-signups', eventId: 'su-2001' },
    });
  });
});

describe('record preparer: canonical events', () => {
  it('reads every writer version in schemas/ through the newest reader schema, even on a mapped topic, each id looked up once', async () => {
    const versions = loadSchemaVersions();
    const registry = memoryRegistry(
      Object.fromEntries(
        versions.map((version) => [
          100 + version.version,
          { schemaType: 'AVRO', schema: JSON.stringify(version.schema), references: [] },
        ]),
      ),
    );
    const prepare = preparer({}, registry.source);
    for (const version of versions) {
      for (const topic of ['interactions', pageView.topic]) {
        const event = makeSampleEvent(version.version, () => 0.4);
        const value = frameRecord(
          100 + version.version,
          version.type.toBuffer(version.type.clone(event, { wrapUnions: false })),
        );
        const prepared = await prepare.prepare({ topic, value });
        expect(prepared.ok && prepared.body.eventId, version.file).toBe(event.eventId);
        expect(prepared.ok && prepared.ids).toEqual({
          schemaId: 100 + version.version,
          eventId: event.eventId,
        });
      }
    }
    expect(registry.calls).toEqual(versions.map((version) => `schema ${100 + version.version}`));
  });

  it('dead-letters a canonical event Gong would refuse as GONG_INVALID, with its eventId and the validator paths', async () => {
    // Year 11473: Gong's ISO timestamps stop at 9999.
    const event = { ...makeSampleEvent(1, () => 0.2), timestamp: 300_000_000_000_000 };
    const prepared = await preparer().prepare({
      topic: 'interactions',
      value: frameRecord(ids.canonical, newestSchema().type.toBuffer(event)),
    });
    expect(prepared).toMatchObject({
      ok: false,
      deadLetter: {
        reason: 'GONG_INVALID',
        eventId: event.eventId,
        schemaId: ids.canonical,
        errors: [expect.stringMatching(/^timestamp: must be epoch milliseconds within years 0000-9999/)],
      },
    });
  });
});

describe('record preparer: records the topic does not expect', () => {
  const otherProto = `syntax = "proto3";\npackage acme.other;\nmessage Click { string id = 1; }\nmessage Hover { string id = 1; message Target { string css = 1; } }\n`;
  const registry = () =>
    memoryRegistry({
      [ids.otherProto]: { schemaType: 'PROTOBUF', schema: otherProto, references: [] },
      [ids.unparseable]: {
        schemaType: 'AVRO',
        schema: '{"type":"record","name":"X","fields":[{"name":"n","type":["null","string"],"default":"x"}]}',
        references: [],
      },
    }).source;
  const signupBytes = Buffer.from(JSON.stringify(signup.events[0]));
  const videoPayload = video.encode(video.events[0]);

  // One row per case: the topic, the bytes, the reason, and what the message must say.
  const cases: [string, string, () => Buffer | null, string, RegExp][] = [
    [
      'JSON text on an avro topic',
      pageView.topic,
      () => signupBytes,
      'NOT_CONFLUENT_FRAMED',
      /it is JSON text \("\{\\"signupId.*topic web\.page-views is read as avro/,
    ],
    [
      'a JSON Schema id on an avro topic',
      pageView.topic,
      () => frameRecord(ids.signup, signupBytes),
      'SCHEMA_NOT_AVRO',
      /schema id 12 is a JSON Schema schema; topic web\.page-views is read as Avro/,
    ],
    [
      'a Protobuf id on an avro topic',
      pageView.topic,
      () => frameRecord(ids.video, videoPayload, [0]),
      'SCHEMA_NOT_AVRO',
      /is a Protobuf schema/,
    ],
    [
      'a Protobuf id on a json-schema topic',
      signup.topic,
      () => frameRecord(ids.video, videoPayload, [0]),
      'SCHEMA_TYPE_UNEXPECTED',
      /schema id 13 is a Protobuf schema; topic product\.signups is read as json-schema \(INPUT_FORMATS\), which takes JSON schemas/,
    ],
    [
      'an Avro id on a protobuf topic',
      video.topic,
      () => frameRecord(ids.pageView, Buffer.from([2])),
      'SCHEMA_TYPE_UNEXPECTED',
      /is a Avro schema; topic media\.video-progress is read as protobuf/,
    ],
    [
      'plain JSON on a json-schema topic',
      signup.topic,
      () => signupBytes,
      'NOT_CONFLUENT_FRAMED',
      /JSON text.*read as json-schema/,
    ],
    [
      'Avro bytes under a JSON Schema id',
      signup.topic,
      () => frameRecord(ids.signup, Buffer.from([2, 0x40, 0xff])),
      'JSON_DECODE_FAILED',
      /payload \(schema id 12\) is not JSON/,
    ],
    [
      'a JSON array under a JSON Schema id',
      signup.topic,
      () => frameRecord(ids.signup, Buffer.from('[1,2]')),
      'JSON_DECODE_FAILED',
      /is JSON array, not an object/,
    ],
    [
      'a framed record on a schemaless json topic',
      'product.signups.plain',
      () => frameRecord(ids.signup, signupBytes),
      'JSON_DECODE_FAILED',
      /Confluent-framed \(magic byte 0, schema id 12\), not JSON text: this topic is read as schemaless json/,
    ],
    [
      'broken text on a schemaless json topic',
      'product.signups.plain',
      () => Buffer.from('{"signupId": '),
      'JSON_DECODE_FAILED',
      /the value is not JSON/,
    ],
    [
      'message indexes naming no message',
      video.topic,
      () => frameRecord(ids.video, videoPayload, [3]),
      'PROTOBUF_DECODE_FAILED',
      /message indexes \[3\] name no message of writer schema 13 \(top-level: acme\.media\.VideoProgress\)/,
    ],
    [
      'message indexes cut short',
      video.topic,
      () => frameRecord(ids.video, Buffer.from([0x04, 0x00])),
      'PROTOBUF_DECODE_FAILED',
      /cut short/,
    ],
    [
      'bytes that are not the message',
      video.topic,
      () => frameRecord(ids.video, Buffer.from([0x0a, 0x7f, 0x01]), [0]),
      'PROTOBUF_DECODE_FAILED',
      /does not decode as acme\.media\.VideoProgress/,
    ],
    [
      'an Avro schema avsc refuses',
      pageView.topic,
      () => frameRecord(ids.unparseable, Buffer.from([0])),
      'SCHEMA_UNPARSEABLE',
      /schema id 15 is not a valid Avro schema/,
    ],
    [
      'garbage under the page-view schema',
      pageView.topic,
      () => frameRecord(ids.pageView, Buffer.from([0xff, 0xff, 0xff])),
      'AVRO_DECODE_FAILED',
      /does not decode with writer schema 11/,
    ],
    [
      'an id the registry does not know',
      pageView.topic,
      () => frameRecord(999, Buffer.from([2])),
      'UNKNOWN_SCHEMA_ID',
      /no schema 999/,
    ],
    ['a tombstone on an avro topic', pageView.topic, () => null, 'NOT_CONFLUENT_FRAMED', /no value/],
    [
      'a tombstone on a json topic',
      'product.signups.plain',
      () => Buffer.alloc(0),
      'JSON_DECODE_FAILED',
      /no value/,
    ],
    [
      'a Protobuf message no mapping takes',
      video.topic,
      () => frameRecord(ids.otherProto, Buffer.from([0x0a, 0x01, 0x78]), [1]),
      'NO_MAPPING',
      /record acme\.other\.Hover on topic media\.video-progress is not a canonical event and no mapping in .*mappings\.yaml takes it/,
    ],
  ];

  const rows = cases.map(
    ([label, topic, value, reason, message]) => [label, reason, topic, value, message] as const,
  );
  it.each(rows)('%s: dead-lettered as %s, never retried', async (_, reason, topic, value, message) => {
    const prepared = await preparer({}, registry()).prepare({ topic, value: value() });
    expect(reasonOf(prepared)).toBe(reason);
    if (!prepared.ok) expect(prepared.deadLetter.message).toMatch(message);
  });

  it('decodes a nested Protobuf message by its message indexes', async () => {
    const mappings = compileMappings(
      `version: 1\nmappings:\n  - name: targets\n    match: { records: acme.other.Hover.Target }\n    body: '{"eventId": css, "timestamp": "2026-01-01T00:00:00.000Z", "eventType": "hover", "content": {"contentTitle": css}}'\n`,
      { file: 'inline.yaml' },
    );
    const prepared = await preparer({ mappings }, registry()).prepare({
      topic: video.topic,
      value: frameRecord(ids.otherProto, Buffer.from([0x0a, 0x02, 0x23, 0x61]), [1, 0]),
    });
    expect(prepared.ok && prepared.body.content.contentTitle).toBe('#a');
  });

  it('rejects with REGISTRY_UNAVAILABLE (retried by the runtime), never a dead letter', async () => {
    const failure = await preparer()
      .prepare({ topic: pageView.topic, value: frameRecord(503, Buffer.from([2])) })
      .catch((error: unknown) => error);
    expect(isBridgeError(failure) && failure.code).toBe('REGISTRY_UNAVAILABLE');
  });

  it('looks a schema the decoder cannot use up once, then dead-letters its records from memory', async () => {
    const counted = memoryRegistry({
      [ids.unparseable]: { schemaType: 'PROTOBUF', schema: 'message {', references: [] },
    });
    const prepare = preparer({}, counted.source);
    for (let i = 0; i < 3; i++) {
      expect(
        reasonOf(
          await prepare.prepare({
            topic: video.topic,
            value: frameRecord(ids.unparseable, Buffer.from([0])),
          }),
        ),
      ).toBe('SCHEMA_UNPARSEABLE');
    }
    expect(counted.calls).toEqual([`schema ${ids.unparseable}`]);
  });

  it('refuses records over MAX_RECORD_BYTES before decoding them', async () => {
    const prepared = await preparer({ maxRecordBytes: 64 }).prepare({
      topic: pageView.topic,
      value: Buffer.alloc(10),
      size: 65,
    });
    expect(prepared).toMatchObject({ ok: false, deadLetter: { reason: 'RECORD_TOO_LARGE' } });
  });
});

describe('record preparer: records no mapping takes', () => {
  const click = avro.Type.forSchema({
    type: 'record',
    name: 'acme.web.Click',
    fields: [{ name: 'id', type: 'string' }],
  });
  const registry = () =>
    memoryRegistry({
      [ids.click]: { schemaType: 'AVRO', schema: JSON.stringify(click.schema()), references: [] },
    }).source;

  it('dead-letters an Avro record of another schema as NO_MAPPING, naming the record and why the canonical schema does not fit', async () => {
    const prepared = await preparer({}, registry()).prepare({
      topic: pageView.topic,
      value: frameRecord(ids.click, click.toBuffer({ id: 'c-1' })),
    });
    expect(prepared).toMatchObject({ ok: false, deadLetter: { reason: 'NO_MAPPING', schemaId: ids.click } });
    if (!prepared.ok)
      expect(prepared.deadLetter.message).toMatch(
        /record acme\.web\.Click on topic web\.page-views is not a canonical event and no mapping in .* takes it, and it is not the canonical schema either \(writer schema 16 cannot be read through the newest reader schema/,
      );
  });

  it('keeps SCHEMA_INCOMPATIBLE for it when no mapping file is set, as before mappings existed', async () => {
    const prepared = await preparer({ mappings: undefined }, registry()).prepare({
      topic: 'interactions',
      value: frameRecord(ids.click, click.toBuffer({ id: 'c-1' })),
    });
    expect(reasonOf(prepared)).toBe('SCHEMA_INCOMPATIBLE');
  });

  it('dead-letters a JSON record as NO_MAPPING when no mapping file is set', async () => {
    const prepared = await preparer({ mappings: undefined }).prepare({
      topic: signup.topic,
      value: frameRecord(ids.signup, Buffer.from('{}')),
    });
    expect(prepared).toMatchObject({ ok: false, deadLetter: { reason: 'NO_MAPPING' } });
    if (!prepared.ok)
      expect(prepared.deadLetter.message).toContain(
        'record Signup on topic product.signups is not a canonical event and MAPPINGS_FILE is not set',
      );
  });
});

describe('record preparer: mapping outcomes', () => {
  it('dead-letters a mapping that throws as MAPPING_FAILED with the mapping, the field and the message', async () => {
    const event = { ...(signup.events[0] as object), createdAt: 'yesterday' };
    const prepared = await preparer().prepare({
      topic: signup.topic,
      value: frameRecord(ids.signup, Buffer.from(JSON.stringify(event))),
    });
    expect(prepared).toMatchObject({
      ok: false,
      deadLetter: { reason: 'MAPPING_FAILED', mapping: 'product-signup', schemaId: ids.signup },
    });
    if (!prepared.ok) {
      expect(prepared.deadLetter.message).toMatch(
        /^mapping "product-signup" failed: timestamp: \$timestamp: cannot read "yesterday"/,
      );
      expect(prepared.deadLetter.errors).toEqual([
        expect.stringMatching(/^timestamp: \$timestamp: cannot read "yesterday"/),
      ]);
    }
  });

  it('validates what a mapping built with the configured validator: its limits', async () => {
    const short = createGongBodyValidator(
      gongValidatorOptions({ ...defaultValidationSettings, GONG_MAX_STRING_LENGTH: 16 }),
    );
    const value = wireRecord(video, ids.video, video.events[0]);
    const prepared = await preparer({ validate: short }).prepare({ topic: video.topic, value });
    expect(prepared).toMatchObject({
      ok: false,
      deadLetter: { reason: 'GONG_INVALID', mapping: 'video-progress', schemaId: ids.video },
    });
    if (!prepared.ok)
      expect(prepared.deadLetter.errors).toEqual([
        'content.contentTitle: must be at most 16 characters (GONG_MAX_STRING_LENGTH)',
      ]);
    // The default limits take it: the configured one made the difference.
    expect((await preparer().prepare({ topic: video.topic, value })).ok).toBe(true);
  });

  it('validates what a mapping built with the configured validator: inferred rules sent flagged, or refused', async () => {
    // A blank title breaks an inferred rule (Gong does not document it).
    const blankTitle = { ...(video.events[0] as object), videoTitle: ' ' };
    const value = wireRecord(video, ids.video, blankTitle);
    const reject = createGongBodyValidator(
      gongValidatorOptions({ ...defaultValidationSettings, GONG_INFERRED_RULES: 'reject' }),
    );
    const refused = await preparer({ validate: reject }).prepare({ topic: video.topic, value });
    expect(refused).toMatchObject({
      ok: false,
      deadLetter: {
        reason: 'GONG_INVALID',
        mapping: 'video-progress',
        inferredRules: ['blank-required-string'],
      },
    });
    const sent = await preparer().prepare({ topic: video.topic, value });
    expect(sent.ok && sent.body.content.contentTitle).toBe(' ');
  });

  it('selects a mapping by the subject the schema id is registered under', async () => {
    const mappings = compileMappings(
      `version: 1\nmappings:\n  - name: by-subject\n    match: { subjects: accounts-signups-value }\n    body: '{"eventId": signupId, "timestamp": $timestamp(createdAt), "eventType": "by subject", "content": {"contentTitle": plan}}'\n`,
      { file: 'inline.yaml' },
    );
    const registry = memoryRegistry({}, { [ids.signup]: ['other-value', 'accounts-signups-value'] });
    const prepare = preparer({ mappings }, registry.source);
    const prepared = await prepare.prepare({
      topic: signup.topic,
      value: frameRecord(ids.signup, Buffer.from(JSON.stringify(signup.events[0]))),
    });
    expect(prepared.ok && prepared.body.eventType).toBe('by subject');
    expect(prepared.ok && prepared.ids.mapping).toBe('by-subject');
    expect(registry.calls).toContain(`subjects ${ids.signup}`);
  });

  it('does not ask for subjects when no mapping selects by subject', async () => {
    const registry = memoryRegistry();
    await preparer({}, registry.source).prepare({
      topic: signup.topic,
      value: frameRecord(ids.signup, Buffer.from(JSON.stringify(signup.events[0]))),
    });
    expect(registry.calls).toEqual([`schema ${ids.signup}`]);
  });
});

// Keeps the file honest about what it exercises: every format in the catalogue has a row above.
it('covers every input format', () => {
  expect(new Set(Object.values(topics))).toEqual(new Set(Object.keys(inputFormats)));
});
