import type { Admin, IHeaders } from 'kafkajs';
import { BridgeError, isBridgeError, type ErrorCode } from '../errors.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';
import {
  batchCompression,
  type BatchedProducer,
  type BatchedProducerOptions,
  type OutgoingMessage,
} from './batched-producer.ts';
import type { HaltSource } from './halt-state.ts';
import { recordBytes } from './record-limits.ts';
import { ensureTopic } from './topics.ts';

/**
 * The dead-letter topic. A dead letter is the original record, untouched (key, value bytes,
 * headers), plus headers saying why it is there and where it came from, so `replay-dlq` or a
 * human can act on it without the bridge's logs.
 *
 * A write must be acknowledged by every in-sync replica (acks=all) before the caller may mark the
 * record complete. The writes go through a serialized, batched producer (batched-producer.ts):
 * failures are classified there, retried, or halt delivery while the topic refuses every write;
 * a caller that aborts (shutdown, revoke) leaves its offset uncommitted.
 *
 * A dead letter larger than the topic accepts (its max.message.bytes) can never be written as it
 * is. Instead of blocking its partition for ever, a reference letter takes its place: every
 * header, the source coordinates and the sizes, reason DEAD_LETTER_TOO_LARGE, and no value. The
 * original stays in its source topic until retention removes it.
 */

export const dlqHeaderPrefix = 'gong-bridge.';

/** Every header the bridge adds, with its meaning; the README and docs reference are built from this. */
export const dlqHeaders = [
  {
    name: 'gong-bridge.reason',
    doc: 'Error code from src/errors.ts: NOT_CONFLUENT_FRAMED, UNKNOWN_SCHEMA_ID, SCHEMA_NOT_AVRO, SCHEMA_TYPE_UNEXPECTED, SCHEMA_UNPARSEABLE, AVRO_DECODE_FAILED, JSON_DECODE_FAILED, PROTOBUF_DECODE_FAILED, SCHEMA_INCOMPATIBLE, RECORD_TOO_LARGE, NO_MAPPING, MAPPING_FAILED, GONG_INVALID, GONG_REJECTED, or DEAD_LETTER_TOO_LARGE for a reference letter (no value: the dead letter was larger than the topic accepts).',
  },
  {
    name: 'gong-bridge.message',
    doc: 'Human-readable explanation of the reason; for MAPPING_FAILED it names the mapping and the failing fields.',
  },
  { name: 'gong-bridge.http-status', doc: 'Status Gong answered (400, 413, 422), when Gong was called.' },
  {
    name: 'gong-bridge.errors',
    doc: 'JSON array of strings: Gong\'s errors[] for a rejection, validation errors as "<path>: <message>", or for MAPPING_FAILED every failing body field as "<field>: <message>".',
  },
  { name: 'gong-bridge.request-id', doc: "Gong's requestId of the rejecting answer." },
  {
    name: 'gong-bridge.inferred-rules',
    doc: 'Comma-separated inferred rules (rules Gong does not document, docs/reference/body-rules.md) the event broke. With GONG_REJECTED: the event was sent flagged and these rules predicted the rejection. With GONG_INVALID: the event was withheld, for these rules when they are set to reject.',
  },
  {
    name: 'gong-bridge.mapping',
    doc: 'Name of the mapping (MAPPINGS_FILE) that took the record, when one did: with MAPPING_FAILED it threw, with GONG_INVALID or GONG_REJECTED it built the body.',
  },
  { name: 'gong-bridge.event-id', doc: 'eventId of the decoded event, when it decoded.' },
  { name: 'gong-bridge.schema-id', doc: 'Registry schema id from the Confluent frame, when framed.' },
  { name: 'gong-bridge.source-topic', doc: 'Topic the record was consumed from.' },
  { name: 'gong-bridge.source-partition', doc: 'Partition the record was consumed from.' },
  { name: 'gong-bridge.source-offset', doc: 'Offset of the record in its source partition.' },
  { name: 'gong-bridge.source-timestamp', doc: 'Kafka timestamp of the source record, epoch milliseconds.' },
  { name: 'gong-bridge.attempts', doc: 'Calls made to Gong for this record (0 when it never reached Gong).' },
  { name: 'gong-bridge.bridge-version', doc: 'gong-bridge version that dead-lettered the record.' },
  { name: 'gong-bridge.dead-lettered-at', doc: 'When the bridge dead-lettered it, ISO 8601 UTC.' },
  {
    name: 'gong-bridge.original-reason',
    doc: 'Reference letters only: the reason the record was dead-lettered for.',
  },
  {
    name: 'gong-bridge.original-key-bytes',
    doc: "Reference letters only: size of the source record's key.",
  },
  {
    name: 'gong-bridge.original-value-bytes',
    doc: "Reference letters only: size of the source record's value, which the reference letter leaves out.",
  },
  {
    name: 'gong-bridge.original-headers-bytes',
    doc: "Reference letters only: size of the source record's headers (names and values).",
  },
  {
    name: 'gong-bridge.original-headers-dropped',
    doc: 'Reference letters only, "true" when even the reference letter with the original key and headers was too large, so it carries neither.',
  },
] as const;

/**
 * The most our own headers may add to a dead letter: free text (Gong's errors, validation
 * messages) is cut to fit. With it, a dead-letter topic whose max.message.bytes is
 * MAX_RECORD_BYTES + dlqHeadroomBytes takes every record the bridge accepts.
 */
export const dlqOwnHeadersMaxBytes = 8_192;
/** Our headers plus the record batch's own overhead (about 70 bytes per batch and record). */
export const dlqHeadroomBytes = 16_384;

/** max.message.bytes the bridge gives a dead-letter topic it creates. */
export function dlqMaxMessageBytes(maxRecordBytes: number): number {
  return maxRecordBytes + dlqHeadroomBytes;
}

export type DlqHeaderName = (typeof dlqHeaders)[number]['name'];

/** The record as consumed: the parts a dead letter must keep byte for byte. */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Kafka timestamp, epoch ms as a string (kafkajs' representation). */
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders | undefined;
}

export interface DeadLetterReason {
  readonly reason: ErrorCode;
  readonly message: string;
  readonly status?: number | undefined;
  readonly errors?: readonly string[] | undefined;
  readonly requestId?: string | undefined;
  readonly eventId?: string | undefined;
  readonly schemaId?: number | undefined;
  readonly attempts?: number | undefined;
  readonly inferredRules?: readonly InferredRuleName[] | undefined;
  /** The mapping that took the record (MAPPINGS_FILE), when one did. */
  readonly mapping?: string | undefined;
}

export interface DlqWriteResult {
  /** What the letter says: the reason asked for, or DEAD_LETTER_TOO_LARGE for a reference letter. */
  readonly reason: ErrorCode;
  readonly reference: boolean;
}

export interface DlqWriter {
  readonly topic: string;
  /** Halted while the topic refuses every write (authorization, missing topic). */
  readonly halts: HaltSource;
  /**
   * Resolves once the broker acknowledged the dead letter, or the reference letter that stands in
   * for one too large for the topic. Rejects with SHUTTING_DOWN on abort.
   */
  write(record: SourceRecord, why: DeadLetterReason, signal?: AbortSignal): Promise<DlqWriteResult>;
}

/** How the dead-letter topic's batched producer is set up by `run` (and the tests that stand in for it). */
export const dlqProducerOptions = {
  haltName: 'dlq',
  onHalt: 'probe',
  compression: batchCompression,
} as const satisfies Partial<BatchedProducerOptions>;

export interface DlqWriterOptions {
  /** Serialized and batched; its topic is the dead-letter topic. */
  readonly producer: Pick<BatchedProducer, 'send' | 'halts' | 'topic'>;
  readonly version: string;
  /** Epoch ms, for the dead-lettered-at header. */
  readonly wallNow: () => number;
}

/** Builds the headers of a dead letter: the originals (minus any stale gong-bridge.* ones), then ours. */
export function deadLetterHeaders(
  record: SourceRecord,
  why: DeadLetterReason,
  version: string,
  at: number,
  options: { readonly originals?: boolean } = {},
): IHeaders {
  const headers: IHeaders = {};
  if (options.originals !== false) {
    for (const [name, value] of Object.entries(record.headers ?? {})) {
      // A record replayed from the DLQ and dead-lettered again carries the old reasons; they would
      // contradict the new ones.
      if (!name.startsWith(dlqHeaderPrefix) && value !== undefined) headers[name] = value;
    }
  }
  const set = (name: DlqHeaderName, value: string | number | undefined) => {
    if (value !== undefined) headers[name] = String(value);
  };
  // Free text is cut so our headers stay within dlqOwnHeadersMaxBytes whatever Gong answers.
  set('gong-bridge.reason', why.reason);
  set('gong-bridge.message', truncate(why.message, 1_024));
  set('gong-bridge.http-status', why.status);
  if (why.errors !== undefined) set('gong-bridge.errors', boundedErrors(why.errors, 4_096));
  set('gong-bridge.request-id', truncate(why.requestId, 256));
  if (why.inferredRules !== undefined && why.inferredRules.length > 0) {
    set('gong-bridge.inferred-rules', why.inferredRules.join(','));
  }
  set('gong-bridge.mapping', truncate(why.mapping, 128));
  set('gong-bridge.event-id', truncate(why.eventId, 256));
  set('gong-bridge.schema-id', why.schemaId);
  set('gong-bridge.source-topic', record.topic);
  set('gong-bridge.source-partition', record.partition);
  set('gong-bridge.source-offset', record.offset);
  set('gong-bridge.source-timestamp', record.timestamp);
  set('gong-bridge.attempts', why.attempts ?? 0);
  set('gong-bridge.bridge-version', version);
  set('gong-bridge.dead-lettered-at', new Date(at).toISOString());
  return headers;
}

/** The dead letter itself: the original key and value bytes, the headers above. */
export function deadLetter(
  record: SourceRecord,
  why: DeadLetterReason,
  version: string,
  at: number,
): OutgoingMessage {
  return { key: record.key, value: record.value, headers: deadLetterHeaders(record, why, version, at) };
}

/**
 * What stands in for a dead letter the topic refuses for its size: no value, the sizes of what
 * was left out, and the reason the record was dead-lettered for. `originals: false` drops the
 * original key and headers too, for when they alone are too large.
 */
export function referenceLetter(
  record: SourceRecord,
  why: DeadLetterReason,
  version: string,
  at: number,
  options: { readonly originals: boolean; readonly topic: string },
): OutgoingMessage {
  const keyBytes = record.key?.length ?? 0;
  const valueBytes = record.value?.length ?? 0;
  const headerBytes = recordBytes({ key: null, value: null, headers: record.headers });
  const total = keyBytes + valueBytes + headerBytes;
  const headers = deadLetterHeaders(
    record,
    {
      ...why,
      reason: 'DEAD_LETTER_TOO_LARGE',
      message:
        `the dead letter (${total} bytes of key, value and headers, plus ours) is larger than ${options.topic} ` +
        `accepts (max.message.bytes); the record stays at ${record.topic}/${record.partition}/${record.offset} ` +
        `until the source topic's retention removes it. Dead-lettered for ${why.reason}: ${why.message}`,
    },
    version,
    at,
    { originals: options.originals },
  );
  headers['gong-bridge.original-reason'] = why.reason;
  headers['gong-bridge.original-key-bytes'] = String(keyBytes);
  headers['gong-bridge.original-value-bytes'] = String(valueBytes);
  headers['gong-bridge.original-headers-bytes'] = String(headerBytes);
  if (!options.originals) headers['gong-bridge.original-headers-dropped'] = 'true';
  return { key: options.originals ? record.key : null, value: null, headers };
}

/** Reads our headers back from a consumed dead letter (replay-dlq, tests). */
export function readDeadLetterHeaders(headers: IHeaders | undefined): Partial<Record<DlqHeaderName, string>> {
  const out: Partial<Record<DlqHeaderName, string>> = {};
  for (const { name } of dlqHeaders) {
    const value = headers?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

export function createDlqWriter(options: DlqWriterOptions): DlqWriter {
  const { producer, version } = options;
  const tooLarge = (error: unknown) => isBridgeError(error) && error.code === 'PRODUCE_TOO_LARGE';
  return {
    topic: producer.topic,
    halts: producer.halts,
    async write(record, why, signal) {
      const at = options.wallNow();
      try {
        await producer.send(deadLetter(record, why, version, at), signal);
        return { reason: why.reason, reference: false };
      } catch (error) {
        if (!tooLarge(error)) throw error;
      }
      const reference = (originals: boolean) =>
        referenceLetter(record, why, version, at, { originals, topic: producer.topic });
      try {
        await producer.send(reference(true), signal);
      } catch (error) {
        if (!tooLarge(error)) throw error;
        // The original key and headers alone are too large: a letter without them. If even that
        // is refused, the topic's max.message.bytes is below a couple of kilobytes, a
        // misconfiguration doctor reports; the error reaches the runtime, which retries loudly.
        await producer.send(reference(false), signal);
      }
      return { reason: 'DEAD_LETTER_TOO_LARGE', reference: true };
    },
  };
}

function truncate(text: string | undefined, maxBytes: number): string | undefined {
  if (text === undefined || Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text)
    .subarray(0, maxBytes - 20)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${cut}… (${Buffer.byteLength(text)} bytes)`;
}

/** errors[] as JSON within `maxBytes`: entries cut to 512 bytes, and a count of those left out. */
function boundedErrors(errors: readonly string[], maxBytes: number): string {
  const kept: string[] = [];
  let size = 2;
  for (const [index, error] of errors.entries()) {
    const entry = truncate(error, 512) ?? '';
    const cost = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (size + cost > maxBytes - 40) {
      kept.push(`… ${errors.length - index} more`);
      break;
    }
    kept.push(entry);
    size += cost;
  }
  return JSON.stringify(kept);
}

/** The topic settings a dead-letter topic the bridge creates gets. */
export function dlqTopicConfig(maxRecordBytes: number): { name: string; value: string }[] {
  return [
    // Every record the bridge accepts (MAX_RECORD_BYTES) plus our headers, whatever the broker's
    // default (1 MiB): the default is too small for a record just under it plus our headers.
    { name: 'max.message.bytes', value: String(dlqMaxMessageBytes(maxRecordBytes)) },
    // gzip, not zstd or lz4: kafkajs (replay-dlq, any Node tool) reads gzip without plugins. The
    // producer sends gzip too, so the broker keeps the batch as it arrives.
    { name: 'compression.type', value: 'gzip' },
  ];
}

/**
 * Creates the dead-letter topic when it is missing, with the broker's default partition count and
 * replication, and dlqTopicConfig. An existing topic is left as it is: its settings belong to
 * whoever created it (doctor compares its max.message.bytes with MAX_RECORD_BYTES).
 */
export async function ensureDlqTopic(
  admin: Pick<Admin, 'listTopics' | 'createTopics'>,
  topic: string,
  maxRecordBytes: number,
) {
  return ensureTopic(
    admin,
    topic,
    dlqTopicConfig(maxRecordBytes),
    (cause) => new BridgeError('DLQ_WRITE_FAILED', `cannot create the dead-letter topic ${topic}`, { cause }),
  );
}
