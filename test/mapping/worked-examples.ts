import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { InputFormatName } from '../../src/decode/formats/index.ts';
import { frameRecord } from '../../src/decode/wire.ts';
import { decodeAvroJson } from '../../src/schemas/avro-json.ts';
import { parseProtoSchema } from '../../src/mapping/proto-file.ts';

/**
 * The three worked examples of docs/mappings.md (test/fixtures/mappings/), with their sample
 * events decoded the way the bridge's decoders hand them over: Avro through avsc's binary
 * round trip (records are class instances, nullable unions unwrapped, timestamp-millis a number),
 * JSON parsed, Protobuf encoded and decoded by protobufjs and presented with
 * `toObject({enums: String, longs: String})`. The unit tests, the bench and (with the wiring) the
 * e2e tier use the same fixtures.
 */
export const fixturesDir = fileURLToPath(new URL('../fixtures/mappings/', import.meta.url));
export const mappingsFile = `${fixturesDir}mappings.yaml`;

export interface WorkedExample {
  readonly mapping: string;
  readonly topic: string;
  readonly record: string;
  /** The topic's INPUT_FORMATS format when its producer uses the registry. */
  readonly format: InputFormatName;
  /** The writer schema as a producer registers it. */
  readonly schemaType: 'AVRO' | 'JSON' | 'PROTOBUF';
  readonly schemaFile: string;
  readonly schemaText: string;
  /** The sample events as written in <name>.events.jsonl (Avro: its JSON encoding). */
  readonly lines: readonly string[];
  /** The sample events as the decoder hands them to the mapping. */
  readonly events: readonly unknown[];
  /** What Gong receives for each, in order. */
  readonly bodies: readonly unknown[];
  /** Encodes a sample to the bytes a producer writes (without the Confluent frame). */
  readonly encode: (line: unknown) => Buffer;
}

function textLines(file: string): string[] {
  return readFileSync(`${fixturesDir}${file}`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

function jsonLines(file: string): unknown[] {
  return textLines(file).map((line) => JSON.parse(line) as unknown);
}

const schemaText = (file: string) => readFileSync(`${fixturesDir}${file}`, 'utf8');

function avroLines(type: avro.Type, file: string): unknown[] {
  return readFileSync(`${fixturesDir}${file}`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const decoded = decodeAvroJson(type, line);
      if (!decoded.ok) throw new Error(`${file}: ${decoded.errors.join('; ')}`);
      return decoded.value;
    });
}

export function loadWorkedExamples(): readonly WorkedExample[] {
  const pageView = avro.Type.forSchema(
    JSON.parse(readFileSync(`${fixturesDir}page-view.avsc`, 'utf8')) as avro.Schema,
  );
  const video = parseProtoSchema(readFileSync(`${fixturesDir}video-progress.proto`, 'utf8')).lookupType(
    'acme.media.VideoProgress',
  );
  const protobufEvent = (line: unknown) =>
    video.toObject(video.decode(video.encode(video.fromObject(line as Record<string, unknown>)).finish()), {
      enums: String,
      longs: String,
    });
  return [
    {
      mapping: 'web-page-view',
      topic: 'web.page-views',
      record: 'acme.web.PageView',
      format: 'avro',
      schemaType: 'AVRO',
      schemaFile: 'page-view.avsc',
      schemaText: schemaText('page-view.avsc'),
      lines: textLines('page-view.events.jsonl'),
      events: avroLines(pageView, 'page-view.events.jsonl').map((value) =>
        pageView.fromBuffer(pageView.toBuffer(value)),
      ),
      bodies: jsonLines('page-view.bodies.jsonl'),
      encode: (value) => pageView.toBuffer(value),
    },
    {
      mapping: 'product-signup',
      topic: 'product.signups',
      record: 'Signup',
      format: 'json-schema',
      schemaType: 'JSON',
      schemaFile: 'signup.schema.json',
      schemaText: schemaText('signup.schema.json'),
      lines: textLines('signup.events.jsonl'),
      events: jsonLines('signup.events.jsonl'),
      bodies: jsonLines('signup.bodies.jsonl'),
      encode: (value) => Buffer.from(JSON.stringify(value)),
    },
    {
      mapping: 'video-progress',
      topic: 'media.video-progress',
      record: 'acme.media.VideoProgress',
      format: 'protobuf',
      schemaType: 'PROTOBUF',
      schemaFile: 'video-progress.proto',
      schemaText: schemaText('video-progress.proto'),
      lines: textLines('video-progress.events.jsonl'),
      events: jsonLines('video-progress.events.jsonl').map(protobufEvent),
      bodies: jsonLines('video-progress.bodies.jsonl'),
      encode: (line) => Buffer.from(video.encode(video.fromObject(line as Record<string, unknown>)).finish()),
    },
  ];
}

/** A sample as a registry-aware producer writes it: the Confluent frame (and [0] for Protobuf). */
export function wireRecord(example: WorkedExample, schemaId: number, event: unknown): Buffer {
  return frameRecord(schemaId, example.encode(event), example.format === 'protobuf' ? [0] : undefined);
}
