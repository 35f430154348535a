/**
 * Every error gong-bridge raises is declared here, with a stable code and an explicit `retriable`
 * flag. The flag decides the record's fate: retriable errors go to backoff, non-retriable ones to
 * the dead-letter topic. An error that is not a BridgeError is a bug: it is logged loudly and is
 * never dead-lettered silently.
 */

export const errorCatalogue = {
  CONFIG_INVALID: { retriable: false, description: 'A setting is missing or malformed; start-up stops.' },
  USAGE: { retriable: false, description: 'A CLI command was called with unknown flags or arguments.' },
  INPUT_UNREADABLE: { retriable: false, description: 'An input file could not be read.' },

  // Poison records: the record itself can never succeed, so it goes to the dead-letter topic.
  NOT_CONFLUENT_FRAMED: {
    retriable: false,
    description: 'The record value does not start with the Confluent magic byte and a schema id.',
  },
  UNKNOWN_SCHEMA_ID: {
    retriable: false,
    description:
      'The registry does not know the schema id, still after SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS of asking again.',
  },
  SCHEMA_NOT_AVRO: {
    retriable: false,
    description: 'The schema id belongs to a JSON Schema or Protobuf schema; this topic is read as Avro.',
  },
  SCHEMA_UNPARSEABLE: {
    retriable: false,
    description:
      'The registry holds a schema of the type the topic is read as, but it cannot be used: not valid Avro (avsc refuses it), not JSON, or a .proto that does not parse.',
  },
  SCHEMA_TYPE_UNEXPECTED: {
    retriable: false,
    description:
      'The schema id belongs to another schema type than the topic is read as (INPUT_FORMATS): an Avro or Protobuf id on a json-schema topic, an Avro or JSON Schema id on a protobuf topic. (On an avro topic this is SCHEMA_NOT_AVRO.)',
  },
  AVRO_DECODE_FAILED: { retriable: false, description: 'The bytes do not decode with the writer schema.' },
  JSON_DECODE_FAILED: {
    retriable: false,
    description:
      'The value (schemaless json topics) or the payload after the Confluent header (json-schema topics) is not a JSON object.',
  },
  PROTOBUF_DECODE_FAILED: {
    retriable: false,
    description:
      'The payload does not decode as the Protobuf message its message indexes name in the writer schema, or the indexes name no message.',
  },
  SCHEMA_INCOMPATIBLE: {
    retriable: false,
    description: 'The writer schema cannot be resolved against the reader schema.',
  },
  RECORD_TOO_LARGE: { retriable: false, description: 'The record exceeds the configured maximum size.' },
  TRANSFORM_REJECTED: {
    retriable: false,
    description: 'The event cannot be expressed as a valid Gong body.',
  },
  NO_MAPPING: {
    retriable: false,
    description:
      'The record is not a canonical event and no mapping in MAPPINGS_FILE takes it (its topic, record name and subject); an Avro record is tried against the canonical schema first.',
  },
  MAPPING_FAILED: {
    retriable: false,
    description:
      "An expression of the record's mapping (MAPPINGS_FILE) threw; the message names the mapping and the field.",
  },
  GONG_INVALID: { retriable: false, description: 'The Gong body fails validation against the API contract.' },
  GONG_REJECTED: { retriable: false, description: 'Gong answered 400, 413 or 422: it rejected the body.' },
  DEAD_LETTER_TOO_LARGE: {
    retriable: false,
    description:
      'The dead letter is larger than the dead-letter topic accepts (max.message.bytes); a reference letter (headers, source coordinates and sizes, no value) was written instead.',
  },

  // Transient: wait and retry, never dead-letter.
  REGISTRY_UNAVAILABLE: { retriable: true, description: 'The schema registry is down or timing out.' },
  SCHEMA_ID_NOT_FOUND_YET: {
    retriable: true,
    description:
      'The registry does not know the schema id yet (a follower may lag behind a new registration); asked again until SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS has passed.',
  },
  REGISTRY_AUTH_FAILED: {
    retriable: true,
    description:
      'The schema registry answered 401 or 403: decoding halts until it accepts the credentials again.',
  },
  GONG_THROTTLED: { retriable: true, description: 'Gong answered 429.' },
  GONG_TRANSIENT: {
    retriable: true,
    description: 'Gong answered 408 or 5xx, or the call timed out or the connection failed.',
  },
  GONG_AUTH_FAILED: {
    retriable: true,
    description: 'Gong answered 401 or 403: delivery halts until the credentials work.',
  },
  QUOTA_EXHAUSTED: { retriable: true, description: 'The daily Gong quota is spent until the window resets.' },
  KAFKA_UNAVAILABLE: { retriable: true, description: 'The Kafka brokers did not answer.' },
  KAFKA_AUTH_FAILED: {
    retriable: true,
    description:
      'Kafka refused the connection: SASL credentials rejected, broker certificate not trusted, or client certificate refused.',
  },
  DLQ_WRITE_FAILED: { retriable: true, description: 'Producing to the dead-letter topic failed.' },
  TOPIC_UNWRITABLE: {
    retriable: true,
    description:
      'A topic the bridge writes to refuses every write (authorization, missing or deleted topic, a configuration it rejects). For the dead-letter topic delivery halts until a probe write succeeds; a one-shot command stops.',
  },
  PRODUCE_TOO_LARGE: {
    retriable: false,
    description:
      "The broker refused a record for its size (the topic's max.message.bytes); it can never be written as it is.",
  },
  REDIS_UNAVAILABLE: { retriable: true, description: 'Redis did not answer; the limiter falls back.' },
  QUOTA_LEDGER_UNAVAILABLE: {
    retriable: true,
    description:
      'The daily spend topic (KAFKA_QUOTA_TOPIC) could not be created or read at start-up; without it a restart would forget the day.',
  },

  SHUTTING_DOWN: {
    retriable: true,
    description: 'The work was interrupted by shutdown; it is redone later.',
  },
  INTERNAL: { retriable: false, description: 'A bug: an unexpected error.' },
} as const satisfies Record<string, { retriable: boolean; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;
export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];

/**
 * The codes a record is dead-lettered with: the values of its `gong-bridge.reason` header. Only
 * records that can never succeed as they are. Retriable errors (a registry or Gong outage) never
 * reach the dead-letter topic, nor do CLI and configuration errors or bugs (INTERNAL). /metrics
 * exports gong_bridge_dead_lettered_total at 0 for each, `replay-dlq --reason` accepts exactly
 * these, and the README's and docs/reference/dlq-headers.md's lists are generated from this one
 * (a unit test checks that the reason header's doc in src/kafka/dlq.ts names the same codes).
 */
export const deadLetterCodes = [
  'NOT_CONFLUENT_FRAMED',
  'UNKNOWN_SCHEMA_ID',
  'SCHEMA_NOT_AVRO',
  'SCHEMA_TYPE_UNEXPECTED',
  'SCHEMA_UNPARSEABLE',
  'AVRO_DECODE_FAILED',
  'JSON_DECODE_FAILED',
  'PROTOBUF_DECODE_FAILED',
  'SCHEMA_INCOMPATIBLE',
  'RECORD_TOO_LARGE',
  // With mappings (MAPPINGS_FILE, src/mapping/): no mapping takes the record, or its mapping throws.
  'NO_MAPPING',
  'MAPPING_FAILED',
  'GONG_INVALID',
  'GONG_REJECTED',
  // A reference letter: the dead letter itself was larger than the DLQ topic accepts.
  'DEAD_LETTER_TOO_LARGE',
] as const satisfies readonly ErrorCode[];
export type DeadLetterCode = (typeof deadLetterCodes)[number];

export function isDeadLetterCode(value: string): value is DeadLetterCode {
  return (deadLetterCodes as readonly string[]).includes(value);
}

export interface ErrorContext {
  topic?: string;
  partition?: number;
  offset?: string;
  status?: number;
  attempt?: number;
  requestId?: string;
  /** Gong's own error strings, or validation errors as `<path>: <message>`. */
  details?: readonly string[];
  variable?: string;
  /** What to do when the fix is not a setting (e.g. a broker certificate to renew). */
  fix?: string;
}

export class BridgeError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.retriable = errorCatalogue[code].retriable;
    this.context = options.context ?? {};
  }
}

export function isBridgeError(value: unknown): value is BridgeError {
  return value instanceof BridgeError;
}

export function isRetriable(value: unknown): boolean {
  return isBridgeError(value) && value.retriable;
}
