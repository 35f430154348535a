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
  UNKNOWN_SCHEMA_ID: { retriable: false, description: 'The registry does not know the schema id.' },
  AVRO_DECODE_FAILED: { retriable: false, description: 'The bytes do not decode with the writer schema.' },
  SCHEMA_INCOMPATIBLE: {
    retriable: false,
    description: 'The writer schema cannot be resolved against the reader schema.',
  },
  RECORD_TOO_LARGE: { retriable: false, description: 'The record exceeds the configured maximum size.' },
  TRANSFORM_REJECTED: {
    retriable: false,
    description: 'The event cannot be expressed as a valid Gong body.',
  },
  GONG_INVALID: { retriable: false, description: 'The Gong body fails validation against the API contract.' },
  GONG_REJECTED: { retriable: false, description: 'Gong answered 400, 413 or 422: it rejected the body.' },

  // Transient: wait and retry, never dead-letter.
  REGISTRY_UNAVAILABLE: { retriable: true, description: 'The schema registry is down or timing out.' },
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
