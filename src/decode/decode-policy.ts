import { isBridgeError, type ErrorCode } from '../errors.ts';

/**
 * What the schema registry's answers and the decoders' failures mean for a record, as tables (the
 * same shape as delivery/outcome-policy.ts). Every failure has exactly one row saying whether the
 * record is dead-lettered, retried, or the whole stream halts; the unit test walks both tables.
 *
 * The line between them: a record is dead-lettered only for something about the record itself
 * (its bytes, the schema its id names, what its mapping makes of it). Anything about the registry
 * or our access to it (down, slow, a wrong URL, refused credentials) must not turn the stream into
 * dead letters, so it is retried or halts.
 */

export type RegistryAnswer = 'found' | 'unknown-id' | 'auth-refused' | 'unavailable';

export interface RegistryAnswerRule {
  /** Inclusive range of HTTP statuses of GET /schemas/ids/{id}. */
  readonly from: number;
  readonly to: number;
  /** The registry's own error_code in the body, when the row needs it. */
  readonly errorCode?: number;
  readonly answer: RegistryAnswer;
  /** The error the lookup raises for it (found: none). */
  readonly code?: ErrorCode;
  readonly why: string;
}

/** First matching row wins. A transport failure (refused, timeout, DNS) counts as `unavailable`. */
export const registryAnswerRules: readonly RegistryAnswerRule[] = [
  { from: 200, to: 200, answer: 'found', why: 'The schema; the decoder reads it.' },
  {
    from: 404,
    to: 404,
    errorCode: 40403,
    answer: 'unknown-id',
    code: 'UNKNOWN_SCHEMA_ID',
    why: 'Schema not found (Confluent and Apicurio ccompat). Asked again for SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS (a follower may lag a new registration), then the record is dead-lettered.',
  },
  {
    from: 401,
    to: 401,
    answer: 'auth-refused',
    code: 'REGISTRY_AUTH_FAILED',
    why: 'Credentials refused: no record needing a schema can decode. Halt and probe.',
  },
  {
    from: 403,
    to: 403,
    answer: 'auth-refused',
    code: 'REGISTRY_AUTH_FAILED',
    why: 'This principal may not read schemas. Halt and probe.',
  },
  {
    from: 404,
    to: 404,
    answer: 'unavailable',
    code: 'REGISTRY_UNAVAILABLE',
    why: 'A 404 without 40403 is not the registry saying "no such id": SCHEMA_REGISTRY_URL points elsewhere.',
  },
  {
    from: 300,
    to: 399,
    answer: 'unavailable',
    code: 'REGISTRY_UNAVAILABLE',
    why: 'A redirect: SCHEMA_REGISTRY_URL is not the API base.',
  },
  {
    from: 400,
    to: 499,
    answer: 'unavailable',
    code: 'REGISTRY_UNAVAILABLE',
    why: 'Any other client error is about our request or a proxy, never the record.',
  },
  {
    from: 500,
    to: 599,
    answer: 'unavailable',
    code: 'REGISTRY_UNAVAILABLE',
    why: 'The registry is failing; wait and retry.',
  },
];

export function classifyRegistryAnswer(status: number, errorCode: number | undefined): RegistryAnswerRule {
  for (const rule of registryAnswerRules) {
    if (status < rule.from || status > rule.to) continue;
    if (rule.errorCode !== undefined && rule.errorCode !== errorCode) continue;
    return rule;
  }
  return {
    from: status,
    to: status,
    answer: 'unavailable',
    code: 'REGISTRY_UNAVAILABLE',
    why: 'An answer outside the table: retried, never dead-lettered.',
  };
}

export type DecodeAction = 'dead-letter' | 'retry' | 'halt';

export interface DecodeFailureRule {
  readonly code: ErrorCode;
  readonly action: DecodeAction;
  readonly why: string;
}

export const decodeFailureRules: readonly DecodeFailureRule[] = [
  {
    code: 'NOT_CONFLUENT_FRAMED',
    action: 'dead-letter',
    why: 'No magic byte and schema id: not our format.',
  },
  { code: 'RECORD_TOO_LARGE', action: 'dead-letter', why: 'Over MAX_RECORD_BYTES.' },
  {
    code: 'UNKNOWN_SCHEMA_ID',
    action: 'dead-letter',
    why: 'The registry still does not know the id after SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS.',
  },
  {
    code: 'SCHEMA_NOT_AVRO',
    action: 'dead-letter',
    why: 'A JSON Schema or Protobuf id on a topic read as Avro; the record never decodes here.',
  },
  {
    code: 'SCHEMA_TYPE_UNEXPECTED',
    action: 'dead-letter',
    why: 'An id of another schema type than the topic is read as (a Protobuf id on a json-schema topic...).',
  },
  {
    code: 'SCHEMA_UNPARSEABLE',
    action: 'dead-letter',
    why: 'The writer schema cannot be used (avsc refuses it, not JSON, a .proto that does not parse): no record with this id decodes.',
  },
  {
    code: 'SCHEMA_INCOMPATIBLE',
    action: 'dead-letter',
    why: 'The writer schema cannot be resolved into the newest reader schema.',
  },
  {
    code: 'AVRO_DECODE_FAILED',
    action: 'dead-letter',
    why: 'The bytes do not decode with their writer schema.',
  },
  {
    code: 'JSON_DECODE_FAILED',
    action: 'dead-letter',
    why: 'Not a JSON object: on a json topic, Confluent-framed bytes or broken text; on a json-schema topic, the payload.',
  },
  {
    code: 'PROTOBUF_DECODE_FAILED',
    action: 'dead-letter',
    why: 'The message indexes name no message of the writer schema, or the bytes do not decode as the one they name.',
  },
  {
    code: 'NO_MAPPING',
    action: 'dead-letter',
    why: 'Decoded, but not canonical and no mapping takes it: fix MAPPINGS_FILE, then replay-dlq.',
  },
  {
    code: 'MAPPING_FAILED',
    action: 'dead-letter',
    why: "An expression of the record's mapping threw for this record (a helper refused its input).",
  },
  {
    code: 'REGISTRY_UNAVAILABLE',
    action: 'retry',
    why: 'Down, slow, misaddressed: wait with backoff, never dead-letter.',
  },
  {
    code: 'SCHEMA_ID_NOT_FOUND_YET',
    action: 'retry',
    why: 'Unknown for now; a registry follower may lag a new registration.',
  },
  {
    code: 'REGISTRY_AUTH_FAILED',
    action: 'halt',
    why: 'Credentials refused: pause fetching, report unready, one probe at a time.',
  },
];

const actionByCode = new Map(decodeFailureRules.map((rule) => [rule.code, rule.action]));

/** The row for a decode failure, or undefined for anything else: a bug, never dead-lettered. */
export function decodeFailureAction(error: unknown): DecodeAction | undefined {
  return isBridgeError(error) ? actionByCode.get(error.code) : undefined;
}
