import type { Admin, IHeaders, Producer } from 'kafkajs';
import type { Sleep } from '../delivery/limiter-types.ts';
import { BridgeError, type ErrorCode } from '../errors.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';

/**
 * The dead-letter topic. A dead letter is the original record, untouched (key, value bytes,
 * headers), plus headers saying why it is there and where it came from, so `replay-dlq` or a
 * human can act on it without the bridge's logs.
 *
 * A write must be acknowledged by every in-sync replica (idempotent producer, acks=all) before
 * the caller may mark the record complete; a failed write is retried with backoff until it
 * succeeds or the caller aborts (shutdown, revoke), and then the offset is not committed.
 */

export const dlqHeaderPrefix = 'gong-bridge.';

/** Every header the bridge adds, with its meaning; the README and docs reference are built from this. */
export const dlqHeaders = [
  {
    name: 'gong-bridge.reason',
    doc: 'Error code from src/errors.ts: NOT_CONFLUENT_FRAMED, UNKNOWN_SCHEMA_ID, AVRO_DECODE_FAILED, SCHEMA_INCOMPATIBLE, RECORD_TOO_LARGE, MAPPING_FAILED, GONG_INVALID or GONG_REJECTED.',
  },
  { name: 'gong-bridge.message', doc: 'Human-readable explanation of the reason.' },
  { name: 'gong-bridge.http-status', doc: 'Status Gong answered (400, 413, 422), when Gong was called.' },
  {
    name: 'gong-bridge.errors',
    doc: 'JSON array of strings: Gong\'s errors[] for a rejection, or validation errors as "<path>: <message>".',
  },
  { name: 'gong-bridge.request-id', doc: "Gong's requestId of the rejecting answer." },
  {
    name: 'gong-bridge.inferred-rules',
    doc: 'Comma-separated inferred rules (rules Gong does not document, docs/reference/body-rules.md) the event broke. With GONG_REJECTED: the event was sent flagged and these rules predicted the rejection. With GONG_INVALID: the event was withheld, for these rules when they are set to reject.',
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
] as const;

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
}

export interface DlqWriteFailure {
  readonly topic: string;
  readonly attempt: number;
  readonly error: string;
  readonly retryInMs: number;
}

export interface DlqWriter {
  readonly topic: string;
  /** Resolves once the broker acknowledged the write; retries until then, or rejects SHUTTING_DOWN on abort. */
  write(record: SourceRecord, why: DeadLetterReason, signal?: AbortSignal): Promise<void>;
}

export interface DlqWriterOptions {
  readonly producer: Pick<Producer, 'send'>;
  readonly topic: string;
  readonly version: string;
  readonly sleep: Sleep;
  /** Epoch ms, for the dead-lettered-at header. */
  readonly wallNow: () => number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Told about every failed attempt (metrics, logs); the write is retried regardless. */
  readonly onWriteFailed?: (failure: DlqWriteFailure) => void;
}

/** Builds the headers of a dead letter: the originals (minus any stale gong-bridge.* ones), then ours. */
export function deadLetterHeaders(
  record: SourceRecord,
  why: DeadLetterReason,
  version: string,
  at: number,
): IHeaders {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    // A record replayed from the DLQ and dead-lettered again carries the old reasons; they would
    // contradict the new ones.
    if (!name.startsWith(dlqHeaderPrefix) && value !== undefined) headers[name] = value;
  }
  const set = (name: DlqHeaderName, value: string | number | undefined) => {
    if (value !== undefined) headers[name] = String(value);
  };
  set('gong-bridge.reason', why.reason);
  set('gong-bridge.message', why.message);
  set('gong-bridge.http-status', why.status);
  if (why.errors !== undefined) set('gong-bridge.errors', JSON.stringify(why.errors));
  set('gong-bridge.request-id', why.requestId);
  if (why.inferredRules !== undefined && why.inferredRules.length > 0) {
    set('gong-bridge.inferred-rules', why.inferredRules.join(','));
  }
  set('gong-bridge.event-id', why.eventId);
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
  const base = options.retryBaseMs ?? 200;
  const max = options.retryMaxMs ?? 10_000;
  return {
    topic: options.topic,
    async write(record, why, signal) {
      const message = {
        key: record.key,
        value: record.value,
        headers: deadLetterHeaders(record, why, options.version, options.wallNow()),
      };
      for (let attempt = 1; ; attempt++) {
        if (signal?.aborted === true) throw shuttingDown(signal.reason);
        try {
          await options.producer.send({ topic: options.topic, acks: -1, messages: [message] });
          return;
        } catch (error) {
          const retryInMs = Math.min(max, base * 2 ** Math.min(attempt - 1, 16));
          options.onWriteFailed?.({
            topic: options.topic,
            attempt,
            error: error instanceof Error ? error.message : String(error),
            retryInMs,
          });
          try {
            await options.sleep(retryInMs, signal);
          } catch (cause) {
            throw shuttingDown(cause);
          }
        }
      }
    },
  };
}

function shuttingDown(cause: unknown): BridgeError {
  return new BridgeError('SHUTTING_DOWN', 'dead-letter write interrupted before it was acknowledged', {
    cause,
  });
}

/**
 * Creates the dead-letter topic when it is missing, with the broker's default partition count and
 * replication. An existing topic is left as it is: its settings belong to whoever created it.
 */
export async function ensureDlqTopic(admin: Pick<Admin, 'listTopics' | 'createTopics'>, topic: string) {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  try {
    return await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
  } catch (error) {
    // Another replica may have created it between our list and create.
    if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return false;
    throw new BridgeError('DLQ_WRITE_FAILED', `cannot create the dead-letter topic ${topic}`, {
      cause: error,
    });
  }
}
