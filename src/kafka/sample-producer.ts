import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Producer } from 'kafkajs';
import type { ErrorCode } from '../errors.ts';
import { registerAvroSchema } from '../schemas/register.ts';
import { newestSchema } from '../schemas/registry-files.ts';
import { makeSampleEvent } from '../transform/sample-events.ts';
import { HEADER_BYTES } from '../decode/wire.ts';

/**
 * Realistic records for produce-sample, the demo, tests and benchmarks: the newest schema
 * registered under `<topic>-value` (TopicNameStrategy), Confluent-framed Avro built from
 * makeSampleEvent, plus, on request, Gong-invalid events and records that cannot decode. The
 * manifest says what each record is and which dead-letter reason it must end up with, so a test
 * can check the outcome record by record (keys are unique).
 */

export type SampleKind = 'valid' | 'invalid' | 'not-framed' | 'unknown-schema' | 'undecodable';

export interface ProducedSample {
  readonly key: string;
  readonly kind: SampleKind;
  /** Set for events that decode. */
  readonly eventId?: string;
  /** The reason header a dead letter of this record must carry; undefined for valid events. */
  readonly expectedReason?: ErrorCode;
}

export interface ProduceSamplesOptions {
  readonly producer: Pick<Producer, 'send'>;
  readonly registry: Pick<SchemaRegistry, 'register'>;
  readonly topic: string;
  readonly count: number;
  /** Share of schema-valid but Gong-invalid events (exact: floor(count * ratio)). */
  readonly invalidRatio?: number;
  /** Share of records that cannot decode: not framed, unknown schema id, garbage Avro, in turn. */
  readonly undecodableRatio?: number;
  readonly random?: () => number;
  /** First sequence number for makeSampleEvent; vary it to get fresh eventIds on every run. */
  readonly firstSeq?: number;
  readonly batchSize?: number;
  /** Event time for every sample (epoch ms); see SampleEventOptions.timestampMs. */
  readonly timestampMs?: number;
  readonly onProgress?: (produced: number) => void;
}

/** A schema id no registry hands out soon: ids are allocated upwards from 1. */
export const unknownSchemaId = 2_000_000_000;

const expectedReasons: Record<Exclude<SampleKind, 'valid'>, ErrorCode> = {
  invalid: 'GONG_INVALID',
  'not-framed': 'NOT_CONFLUENT_FRAMED',
  'unknown-schema': 'UNKNOWN_SCHEMA_ID',
  undecodable: 'AVRO_DECODE_FAILED',
};

export function sampleKinds(
  count: number,
  invalidRatio: number,
  undecodableRatio: number,
  random: () => number,
) {
  const invalid = Math.floor(count * invalidRatio);
  const undecodable = Math.floor(count * undecodableRatio);
  if (invalid + undecodable > count) throw new RangeError('invalid + undecodable ratios exceed 1');
  const poison: SampleKind[] = ['not-framed', 'unknown-schema', 'undecodable'];
  const kinds: SampleKind[] = [];
  for (let i = 0; i < invalid; i++) kinds.push('invalid');
  for (let i = 0; i < undecodable; i++) kinds.push(poison[i % poison.length]!);
  while (kinds.length < count) kinds.push('valid');
  // Spread the bad ones through the stream, as they would arrive in life.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

/**
 * Registers the newest event schema for `topic` (subject `<topic>-value`); the registry's
 * refusals are explained by registerAvroSchema.
 */
export async function registerNewestSchema(registry: Pick<SchemaRegistry, 'register'>, topic: string) {
  return registerAvroSchema(registry, `${topic}-value`, newestSchema().schema);
}

function frame(id: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + payload.length);
  out.writeInt32BE(id, 1);
  payload.copy(out, HEADER_BYTES);
  return out;
}

export async function produceSamples(options: ProduceSamplesOptions): Promise<ProducedSample[]> {
  const random = options.random ?? Math.random;
  const firstSeq = options.firstSeq ?? Math.floor(random() * 1_000_000) * 1_000;
  const batchSize = options.batchSize ?? 500;
  const schemaId = await registerNewestSchema(options.registry, options.topic);
  const type = newestSchema().type;
  const kinds = sampleKinds(options.count, options.invalidRatio ?? 0, options.undecodableRatio ?? 0, random);
  const manifest: ProducedSample[] = [];
  let batch: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await options.producer.send({ topic: options.topic, acks: -1, messages: batch });
    batch = [];
    options.onProgress?.(manifest.length);
  };
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const seq = firstSeq + i;
    let key: string;
    let value: Buffer;
    let eventId: string | undefined;
    if (kind === 'valid' || kind === 'invalid') {
      const event = makeSampleEvent(seq, random, {
        invalid: kind === 'invalid',
        ...(options.timestampMs === undefined ? {} : { timestampMs: options.timestampMs }),
      });
      eventId = event.eventId;
      key = event.eventId;
      value = frame(schemaId, type.toBuffer(event));
    } else {
      key = `${kind}-${seq}`;
      if (kind === 'not-framed') value = Buffer.from(JSON.stringify({ eventId: key, note: 'plain JSON' }));
      else if (kind === 'unknown-schema') value = frame(unknownSchemaId, Buffer.from([2, 4, 6]));
      // A long varint that never ends: no Avro type reads it.
      else value = frame(schemaId, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    }
    manifest.push({
      key,
      kind,
      ...(eventId === undefined ? {} : { eventId }),
      ...(kind === 'valid' ? {} : { expectedReason: expectedReasons[kind] }),
    });
    batch.push({ key, value, headers: { 'sample-kind': kind } });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return manifest;
}
