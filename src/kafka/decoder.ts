import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import type { Settings } from '../config/settings.ts';
import { newestSchema } from '../schemas/registry-files.ts';
import { registryClientOptions } from './connection.ts';
import { BridgeError, isBridgeError, type ErrorCode } from '../errors.ts';
import type { InteractionEvent } from '../transform/interaction-event.ts';

/**
 * Confluent wire format in, canonical event out, read through the newest reader schema.
 *
 * Failures are sorted by what they say about the record:
 *  - poison (the record can never decode; dead-letter it): not framed, unknown schema id, Avro
 *    that does not decode, a writer schema the reader cannot resolve, a record over the size cap;
 *  - transient (the registry is down, slow or answering oddly): REGISTRY_UNAVAILABLE is thrown,
 *    the caller waits and retries, and never dead-letters. A misconfigured registry URL must not
 *    turn the whole stream into dead letters, so only the registry's own "schema not found"
 *    answer (HTTP 404 with error_code 40403, as Confluent and Apicurio's ccompat API send it)
 *    counts as an unknown id.
 */

export type DecodeResult =
  | { readonly ok: true; readonly event: InteractionEvent; readonly schemaId: number }
  | { readonly ok: false; readonly error: BridgeError; readonly schemaId?: number };

export interface Decoder {
  /** Resolves a poison result or the event; rejects with REGISTRY_UNAVAILABLE when it should be retried. */
  /**
   * `recordSize` is the whole record's size (key, value and headers, see recordBytes in
   * record-limits.ts), checked against MAX_RECORD_BYTES; without it only the value counts.
   */
  decode(value: Buffer | null, recordSize?: number): Promise<DecodeResult>;
}

/** Writer schemas by id. Rejects with UNKNOWN_SCHEMA_ID (poison) or REGISTRY_UNAVAILABLE (transient). */
export interface SchemaLookup {
  writerType(id: number): Promise<avro.Type>;
}

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface DecoderOptions {
  readonly lookup: SchemaLookup;
  /** The newest schema in schemas/; every writer version is resolved into it. */
  readonly reader: avro.Type;
  /** MAX_RECORD_BYTES. */
  readonly maxRecordBytes: number;
}

export function createDecoder(options: DecoderOptions): Decoder {
  const { lookup, reader, maxRecordBytes } = options;
  // One resolver per writer id: building one walks both schemas, decoding with it is cheap.
  const resolvers = new Map<number, avro.Resolver | BridgeError>();

  const poison = (code: ErrorCode, message: string, schemaId?: number, cause?: unknown): DecodeResult => ({
    ok: false,
    error: new BridgeError(code, message, cause === undefined ? {} : { cause }),
    ...(schemaId === undefined ? {} : { schemaId }),
  });

  return {
    async decode(value, recordSize) {
      if (value === null || value.length === 0) {
        return poison('NOT_CONFLUENT_FRAMED', 'the record has no value (a tombstone or an empty record)');
      }
      const size = recordSize ?? value.length;
      if (size > maxRecordBytes) {
        return poison(
          'RECORD_TOO_LARGE',
          `the record is ${size} bytes (key, value and headers), more than MAX_RECORD_BYTES (${maxRecordBytes})`,
        );
      }
      if (value.length < HEADER_BYTES || value[0] !== MAGIC_BYTE) {
        return poison(
          'NOT_CONFLUENT_FRAMED',
          `the value does not start with magic byte 0 and a 4-byte schema id (first byte ${value[0]}, ${value.length} bytes)`,
        );
      }
      const schemaId = value.readInt32BE(1);
      let resolver = resolvers.get(schemaId);
      if (resolver === undefined) {
        let writer: avro.Type;
        try {
          writer = await lookup.writerType(schemaId);
        } catch (error) {
          if (isBridgeError(error) && error.code === 'UNKNOWN_SCHEMA_ID') {
            return { ok: false, error, schemaId };
          }
          throw error;
        }
        try {
          resolver = reader.createResolver(writer);
        } catch (cause) {
          resolver = new BridgeError(
            'SCHEMA_INCOMPATIBLE',
            `writer schema ${schemaId} cannot be read through the newest reader schema: ${messageOf(cause)}`,
            { cause },
          );
        }
        resolvers.set(schemaId, resolver);
      }
      if (resolver instanceof BridgeError) return { ok: false, error: resolver, schemaId };
      try {
        const event = reader.fromBuffer(value.subarray(HEADER_BYTES), resolver) as InteractionEvent;
        return { ok: true, event, schemaId };
      } catch (cause) {
        return poison(
          'AVRO_DECODE_FAILED',
          `the payload does not decode with writer schema ${schemaId}: ${messageOf(cause)}`,
          schemaId,
          cause,
        );
      }
    },
  };
}

export interface RegistryLookupOptions {
  /** SCHEMA_REGISTRY_URL, e.g. http://host:8081 or Apicurio's .../apis/ccompat/v7. */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Per request; a registry that hangs must become a retriable error, not a stuck record. */
  readonly timeoutMs?: number;
  /** Injectable for tests; default the global fetch. */
  readonly fetch?: typeof fetch;
  /**
   * How long a confirmed unknown id is remembered, so a stream of records with a dead schema id
   * does not cost two registry requests each; 0 turns it off. Default 60 s: an id registered
   * later is found within a minute.
   */
  readonly unknownIdTtlMs?: number;
  /** Monotonic ms for that memory; default performance.now. */
  readonly now?: () => number;
}

/**
 * Schema lookups through @kafkajs/confluent-schema-registry, which caches schemas by id and
 * merges concurrent misses into one request. Its own retries are off: the runtime retries with
 * its own backoff and reports it. A 404 is double-checked with one direct request, because the
 * library keeps no error_code and maps network failures to status 400.
 */
export function createRegistryLookup(options: RegistryLookupOptions): SchemaLookup & {
  readonly registry: SchemaRegistry;
} {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const auth =
    options.username === undefined
      ? undefined
      : { username: options.username, password: options.password ?? '' };
  const registry = new SchemaRegistry({
    host: options.url,
    ...(auth === undefined ? {} : { auth }),
    retry: { retries: 0 },
    middlewares: [
      () => ({
        // mappersmith has no default timeout: without this a hung registry holds records for ever.
        prepareRequest: (next: () => Promise<{ enhance(extras: { timeout: number }): unknown }>) =>
          next().then((request) => request.enhance({ timeout: timeoutMs })),
      }),
    ] as never,
  });
  const doFetch = options.fetch ?? fetch;
  const unknownTtlMs = options.unknownIdTtlMs ?? 60_000;
  const now = options.now ?? (() => performance.now());
  /** Confirmed unknown ids and until when to believe it; bounded so garbage ids cannot grow it. */
  const unknownUntil = new Map<number, number>();
  const base = options.url.replace(/\/+$/, '');

  async function confirmUnknown(id: number): Promise<boolean> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    }
    const response = await doFetch(`${base}/schemas/ids/${id}`, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (response.status !== 404) return false;
    try {
      const body = JSON.parse(text) as { error_code?: unknown };
      return body.error_code === 40403;
    } catch {
      return false;
    }
  }

  return {
    registry,
    async writerType(id) {
      const until = unknownUntil.get(id);
      if (until !== undefined) {
        if (now() < until)
          throw new BridgeError('UNKNOWN_SCHEMA_ID', `the registry does not know schema id ${id}`);
        unknownUntil.delete(id);
      }
      let schema: unknown;
      try {
        schema = await registry.getSchema(id);
      } catch (error) {
        const status = (error as { status?: unknown }).status;
        if (status === 404) {
          let unknown: boolean;
          try {
            unknown = await confirmUnknown(id);
          } catch (cause) {
            throw unavailable(id, cause);
          }
          if (unknown) {
            if (unknownTtlMs > 0) {
              if (unknownUntil.size >= 1_000) unknownUntil.clear();
              unknownUntil.set(id, now() + unknownTtlMs);
            }
            throw new BridgeError('UNKNOWN_SCHEMA_ID', `the registry does not know schema id ${id}`, {
              cause: error,
            });
          }
        }
        // Anything else (refused, timeout, 5xx, 401, an answer the library cannot parse) may be
        // our configuration or the registry's health, not the record: wait and retry.
        throw unavailable(id, error);
      }
      if (typeof (schema as { createResolver?: unknown }).createResolver !== 'function') {
        throw new BridgeError('SCHEMA_INCOMPATIBLE', `schema id ${id} is not an Avro schema`);
      }
      return schema as avro.Type;
    },
  };
}

function unavailable(id: number, cause: unknown): BridgeError {
  return new BridgeError(
    'REGISTRY_UNAVAILABLE',
    `schema registry lookup of id ${id} failed: ${messageOf(cause)}`,
    { cause },
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The decoder `run` and `replay-dlq` use: the configured registry, read through the newest schema. */
export function createDecoderFromConfig(config: Settings): Decoder {
  const registry = registryClientOptions(config);
  return createDecoder({
    lookup: createRegistryLookup({
      url: registry.host,
      username: registry.auth?.username,
      password: registry.auth?.password,
    }),
    reader: newestSchema().type,
    maxRecordBytes: config.MAX_RECORD_BYTES,
  });
}
