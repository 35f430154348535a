import { BridgeError, isBridgeError } from '../errors.ts';
import type { GongBody, GongBodyValidator } from '../gong/validate.ts';
import type { DeadLetterReason } from '../kafka/dlq.ts';
import type { HaltSource } from '../kafka/halt-state.ts';
import { applyMapping, type CompiledMapping, type MappingSet } from '../mapping/index.ts';
import type { InteractionEvent } from '../transform/interaction-event.ts';
import { transformEvent } from '../transform/transform.ts';
import { decodeFailureAction } from './decode-policy.ts';
import type { DecodedEvent, DecodeOutcome, InputFormat, Writer } from './formats/index.ts';
import type { SchemaSource } from './registry.ts';
import { describeValue, readFrame } from './wire.ts';

/**
 * The front of the pipeline for one record, the step the runtime calls before delivery:
 * decode (the topic's format) → pick the mapping (topic, record name, subject) → build the body
 * (the built-in transform for canonical events, the mapping for the others) → validate (the
 * configured validator, as the engine uses). It answers with the body, or with why the record
 * goes to the dead-letter topic; it rejects only with what decode-policy.ts retries or halts on
 * (the registry unreachable, or refusing us).
 */

/** The coordinates a dead letter and a delivery report carry, whatever became of the record. */
export type RecordIds = Pick<DeadLetterReason, 'eventId' | 'schemaId' | 'mapping'>;

export type PreparedRecord =
  | { readonly ok: true; readonly body: GongBody; readonly ids: RecordIds }
  | { readonly ok: false; readonly deadLetter: DeadLetterReason };

export interface PreparableRecord {
  readonly topic: string;
  readonly value: Buffer | null;
  /** The whole record's size (key, value, headers), checked against MAX_RECORD_BYTES; default the value's. */
  readonly size?: number;
}

export interface RecordPreparer {
  prepare(record: PreparableRecord): Promise<PreparedRecord>;
  /** Halted while the registry refuses the credentials. */
  readonly halts?: HaltSource | undefined;
  /** Stops background work (the registry probe). */
  close?(): void;
}

export interface RecordPreparerOptions {
  /** Each input topic's format; a topic not listed is read as `defaultFormat`. */
  readonly formats: ReadonlyMap<string, InputFormat>;
  readonly defaultFormat: InputFormat;
  /** Writer schemas by id; needed when any topic is read in the Confluent wire format. */
  readonly registry?: SchemaSource | undefined;
  readonly mappings?: MappingSet | undefined;
  /** The configured validator (limits, inferred rules), the one the engine uses. */
  readonly validate: GongBodyValidator;
  /** MAX_RECORD_BYTES. */
  readonly maxRecordBytes: number;
}

type Verdict = Writer | BridgeError;

export function createRecordPreparer(options: RecordPreparerOptions): RecordPreparer {
  const { registry, mappings, validate, maxRecordBytes } = options;
  /** Per format and schema id: the writer, or why no record with that id decodes here. */
  const writers = new Map<InputFormat, Map<number, Verdict>>();
  /** Topics where a mapping may select by subject, so the id's subjects are worth a lookup. */
  const subjectTopics = new Map<string, boolean>();

  async function writerFor(format: InputFormat, schemaId: number, topic: string): Promise<Verdict> {
    let known = writers.get(format);
    if (known === undefined) writers.set(format, (known = new Map()));
    const cached = known.get(schemaId);
    if (cached !== undefined) return cached;
    if (registry === undefined || format.writer === undefined)
      throw new BridgeError('INTERNAL', `topic ${topic} is read as ${format.name} but no registry was wired`);
    let verdict: Verdict;
    try {
      const schema = await registry.schema(schemaId);
      if (schema.schemaType !== format.schemaType)
        verdict = wrongSchemaType(format, schemaId, schema.schemaType, topic);
      else verdict = format.writer(schema, schemaId);
    } catch (error) {
      // Only a row that dead-letters is about the record; the rest is retried or halts upstream.
      if (!(isBridgeError(error) && decodeFailureAction(error) === 'dead-letter')) throw error;
      // An unknown id may become known (the registry answers again after its recheck interval).
      if (error.code === 'UNKNOWN_SCHEMA_ID') return error;
      verdict = error;
    }
    known.set(schemaId, verdict);
    return verdict;
  }

  /** The record's value in its topic's format; `payload` is what follows the frame, if framed. */
  async function decode(
    topic: string,
    value: Buffer,
    format: InputFormat,
  ): Promise<{ outcome: DecodeOutcome; schemaId?: number; writer?: Writer; payload?: Buffer }> {
    if (format.decodeValue !== undefined) return { outcome: format.decodeValue(value) };
    const frame = readFrame(value);
    if (frame === undefined) {
      const error = new BridgeError(
        'NOT_CONFLUENT_FRAMED',
        `the value does not start with magic byte 0 and a 4-byte schema id: it is ${describeValue(value)}; topic ${topic} is read as ${format.name} (INPUT_FORMATS)`,
      );
      return { outcome: { ok: false, error } };
    }
    const { schemaId, payload } = frame;
    const writer = await writerFor(format, schemaId, topic);
    if (writer instanceof BridgeError) return { outcome: { ok: false, error: writer }, schemaId };
    return { outcome: writer.decode(payload), schemaId, writer, payload };
  }

  /**
   * The mapping for a decoded record. The subjects its schema id is registered under are asked
   * for only where some mapping selects by subject; an id under several subjects tries the
   * topic's own (`<topic>-value`, TopicNameStrategy) first, then the others in the registry's order.
   */
  async function selectMapping(
    topic: string,
    decoded: DecodedEvent,
    schemaId: number | undefined,
  ): Promise<{ mapping: CompiledMapping | undefined; subject: string | undefined }> {
    if (mappings === undefined) return { mapping: undefined, subject: undefined };
    const writer = { record: decoded.record };
    if (schemaId === undefined || registry === undefined || !selectsBySubject(topic)) {
      return { mapping: mappings.selectMapping(topic, writer), subject: undefined };
    }
    const subjects = [...(await registry.subjects(schemaId))].sort(
      (a, b) => Number(b === `${topic}-value`) - Number(a === `${topic}-value`),
    );
    for (const subject of subjects) {
      const mapping = mappings.selectMapping(topic, { ...writer, subject });
      if (mapping !== undefined) return { mapping, subject };
    }
    return { mapping: mappings.selectMapping(topic, writer), subject: subjects[0] };
  }

  function selectsBySubject(topic: string): boolean {
    let answer = subjectTopics.get(topic);
    if (answer === undefined) {
      answer =
        mappings?.mappings.some(
          (mapping) =>
            mapping.match.subjects !== undefined &&
            (mapping.match.topics === undefined || mapping.match.topics.includes(topic)),
        ) ?? false;
      subjectTopics.set(topic, answer);
    }
    return answer;
  }

  return {
    halts: registry?.halts,
    close: () => registry?.close?.(),
    async prepare(record) {
      const format = options.formats.get(record.topic) ?? options.defaultFormat;
      const value = record.value;
      if (value === null || value.length === 0) {
        const code = format.decodeValue === undefined ? 'NOT_CONFLUENT_FRAMED' : 'JSON_DECODE_FAILED';
        return deadLetterOf(
          new BridgeError(code, 'the record has no value (a tombstone or an empty record)'),
        );
      }
      const size = record.size ?? value.length;
      if (size > maxRecordBytes) {
        return deadLetterOf(
          new BridgeError(
            'RECORD_TOO_LARGE',
            `the record is ${size} bytes (key, value and headers), more than MAX_RECORD_BYTES (${maxRecordBytes})`,
          ),
        );
      }
      const { outcome, schemaId, writer, payload } = await decode(record.topic, value, format);
      const ids: RecordIds = schemaId === undefined ? {} : { schemaId };
      if (!outcome.ok) return deadLetterOf(outcome.error, ids);
      const decoded = outcome.decoded;
      if (decoded.canonical === true) return canonicalBody(decoded.event as InteractionEvent, validate, ids);
      const { mapping, subject } = await selectMapping(record.topic, decoded, schemaId);
      if (mapping !== undefined) return mappedBody(mapping, decoded.event, validate, ids);
      if (writer?.asCanonical !== undefined && payload !== undefined) {
        const fallback = writer.asCanonical(payload);
        if (fallback.ok) return canonicalBody(fallback.decoded.event as InteractionEvent, validate, ids);
        return deadLetterOf(noMapping(record.topic, decoded, subject, mappings, fallback.error), ids);
      }
      return deadLetterOf(noMapping(record.topic, decoded, subject, mappings), ids);
    },
  };
}

/** A dead letter for `error`: its code, message and details (the validator's or the mapping's). */
export function deadLetterOf(error: BridgeError, ids: RecordIds = {}): PreparedRecord {
  return {
    ok: false,
    deadLetter: {
      reason: error.code,
      message: error.message,
      ...(error.context.details === undefined ? {} : { errors: error.context.details }),
      ...ids,
    },
  };
}

/** A canonical event through the built-in transform and `validate`. */
export function canonicalBody(
  event: InteractionEvent,
  validate: GongBodyValidator,
  ids: RecordIds = {},
): PreparedRecord {
  const eventId = typeof event.eventId === 'string' ? event.eventId : undefined;
  const withId = { ...ids, ...(eventId === undefined ? {} : { eventId }) };
  const transformed = transformEvent(event, validate);
  if (transformed.ok) return { ok: true, body: transformed.body, ids: withId };
  return {
    ok: false,
    deadLetter: {
      reason: 'GONG_INVALID',
      message: 'the event does not make a valid Gong body',
      errors: transformed.errors,
      inferredRules: transformed.inferredRules,
      ...withId,
    },
  };
}

/** A decoded event through its mapping and `validate`: the body, MAPPING_FAILED or GONG_INVALID. */
export async function mappedBody(
  mapping: CompiledMapping,
  event: unknown,
  validate: GongBodyValidator,
  ids: RecordIds = {},
): Promise<PreparedRecord> {
  const withMapping = { ...ids, mapping: mapping.name };
  const result = await applyMapping(mapping, event, validate);
  if (result.ok)
    return { ok: true, body: result.body, ids: { ...withMapping, eventId: result.body.eventId } };
  const prepared = deadLetterOf(result.error, withMapping);
  if (prepared.ok || result.inferredRules === undefined) return prepared;
  return { ok: false, deadLetter: { ...prepared.deadLetter, inferredRules: result.inferredRules } };
}

/**
 * Why a decoded record that is not canonical has no body: NO_MAPPING, naming the record, the
 * topic and the mapping file. Without a mapping file an Avro record keeps the reason it always
 * had (`why`, the canonical schema's refusal).
 */
export function noMapping(
  topic: string,
  decoded: DecodedEvent,
  subject: string | undefined,
  mappings: MappingSet | undefined,
  why?: BridgeError,
): BridgeError {
  if (mappings === undefined && why !== undefined) return why;
  const writer = `record ${decoded.record ?? '(unnamed)'}${subject === undefined ? '' : ` (subject ${subject})`}`;
  const where =
    mappings === undefined ? 'MAPPINGS_FILE is not set' : `no mapping in ${mappings.file} takes it`;
  const canonicalToo =
    why === undefined ? '' : `, and it is not the canonical schema either (${why.message})`;
  return new BridgeError(
    'NO_MAPPING',
    `${writer} on topic ${topic} is not a canonical event and ${where}${canonicalToo}`,
  );
}

function wrongSchemaType(format: InputFormat, schemaId: number, type: string, topic: string): BridgeError {
  const named =
    type === 'JSON' ? 'JSON Schema' : type === 'PROTOBUF' ? 'Protobuf' : type === 'AVRO' ? 'Avro' : type;
  // The Avro wording is the one dead letters have carried since issue 13.
  if (format.name === 'avro') {
    return new BridgeError(
      'SCHEMA_NOT_AVRO',
      `schema id ${schemaId} is a ${named} schema; topic ${topic} is read as Avro (Confluent framing with an Avro writer schema; INPUT_FORMATS)`,
    );
  }
  return new BridgeError(
    'SCHEMA_TYPE_UNEXPECTED',
    `schema id ${schemaId} is a ${named} schema; topic ${topic} is read as ${format.name} (INPUT_FORMATS), which takes ${format.schemaType ?? 'no'} schemas`,
  );
}
