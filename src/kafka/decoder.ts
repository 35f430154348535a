import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { Settings } from '../config/settings.ts';
import { systemSleep, type Sleep } from '../shared/time.ts';
import { BridgeError, isBridgeError, type ErrorCode } from '../errors.ts';
import { newestSchema } from '../schemas/registry-files.ts';
import type { InteractionEvent } from '../transform/interaction-event.ts';
import { registryClientOptions } from './connection.ts';
import { classifyRegistryAnswer, decodeFailureAction } from './decode-policy.ts';
import { HaltState, type HaltSource } from './halt-state.ts';

/**
 * Confluent wire format in, canonical event out, read through the newest reader schema.
 *
 * Failures are sorted by what they say about the record, one row each in decode-policy.ts:
 *  - poison (the record can never decode; dead-letter it): not framed, an id the registry still
 *    does not know after SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS, a JSON Schema or Protobuf id, an
 *    Avro schema avsc refuses, Avro that does not decode, a writer schema the reader cannot
 *    resolve, a record over the size cap;
 *  - transient (the registry is down, slow or answering oddly, or does not know the id yet):
 *    thrown, the caller waits and retries, and never dead-letters. A misconfigured registry URL
 *    must not turn the whole stream into dead letters, so only the registry's own "schema not
 *    found" answer (HTTP 404 with error_code 40403, as Confluent and Apicurio's ccompat API send
 *    it) counts as an unknown id;
 *  - halt (the registry refuses our credentials, 401/403): REGISTRY_AUTH_FAILED is thrown and the
 *    lookup's halt source reports it, so the runtime pauses and turns unready.
 */

export type DecodeResult =
  | { readonly ok: true; readonly event: InteractionEvent; readonly schemaId: number }
  | { readonly ok: false; readonly error: BridgeError; readonly schemaId?: number };

export interface Decoder {
  /**
   * Resolves a poison result or the event; rejects with an error decode-policy.ts retries or
   * halts on. `recordSize` is the whole record's size (key, value and headers, see recordBytes in
   * record-limits.ts), checked against MAX_RECORD_BYTES; without it only the value counts.
   */
  decode(value: Buffer | null, recordSize?: number): Promise<DecodeResult>;
  /** Halted while the registry refuses the credentials. */
  readonly halts?: HaltSource | undefined;
  /** Stops background work (the registry probe); call once the decoder is no longer used. */
  close?(): void;
}

/** Writer schemas by id; rejects with an error decode-policy.ts has a row for. */
export interface SchemaLookup {
  writerType(id: number): Promise<avro.Type>;
  readonly halts?: HaltSource | undefined;
  close?(): void;
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
    halts: lookup.halts,
    close: () => lookup.close?.(),
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
          // The record is poison only when the table says so; a registry that is down, slow or
          // refusing us is retried or halts in the runtime.
          if (isBridgeError(error) && decodeFailureAction(error) === 'dead-letter') {
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
   * SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS: how long an id the registry answers 40403 for is asked
   * about again before its records are dead-lettered, counted from the first such answer. A
   * record can arrive before the registry instance we ask has the schema (a follower lagging a
   * new registration); 0 dead-letters at once.
   */
  readonly unknownIdRetryMs?: number;
  /**
   * After the window, how long an id is believed unknown without asking again, so a stream of
   * records with a dead id costs one request per interval, not one each. Default 5 s.
   */
  readonly unknownIdRecheckMs?: number;
  /** While the registry refuses the credentials: first probe delay, doubling up to probeMaxMs. */
  readonly probeBaseMs?: number;
  readonly probeMaxMs?: number;
  /** Monotonic ms; default performance.now. */
  readonly now?: () => number;
  /** For the probe loop; default the real one. */
  readonly sleep?: Sleep;
}

export interface RegistryLookup extends SchemaLookup {
  /** For registering schemas (produce-sample, tests), and for Avro schemas with references. */
  readonly registry: SchemaRegistry;
  /** Halted while the registry answers 401/403 (decode-policy.ts). */
  readonly halts: HaltSource;
  /** Stops the probe loop of an auth halt. */
  close(): void;
}

const knownAvro = new Set([undefined, null, '', 'AVRO']);

/**
 * Writer schemas by id, with each registry answer sorted by decode-policy.ts. One request per id
 * (`GET /schemas/ids/{id}`, concurrent misses merged, schemas cached for good since an id's
 * content never changes) gives the status, the registry's error_code and the schema type, which
 * the schema-registry library keeps none of. Avro schemas with references are handed to the
 * library, which resolves them. Its own retries are off: the runtime retries with its own backoff.
 */
export function createRegistryLookup(options: RegistryLookupOptions): RegistryLookup {
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
  const windowMs = options.unknownIdRetryMs ?? 30_000;
  const recheckMs = options.unknownIdRecheckMs ?? 5_000;
  const probeBase = options.probeBaseMs ?? 1_000;
  const probeMax = options.probeMaxMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
  };
  if (auth !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  const types = new Map<number, avro.Type>();
  /** Facts about an id's content (not Avro, not valid Avro): content never changes, so they hold. */
  const verdicts = new BoundedMap<number, BridgeError>(1_000);
  /** When the registry first answered 40403 for an id still unknown. */
  const unknownSince = new BoundedMap<number, number>(1_000);
  /** Past the window: believed unknown until then, without asking. */
  const unknownUntil = new BoundedMap<number, number>(1_000);
  const pending = new Map<number, Promise<avro.Type>>();
  const sleep = options.sleep ?? systemSleep;
  const halts = new HaltState('registry-auth', now);
  const closing = new AbortController();
  let nextProbeAt = 0;
  let probeDelay = probeBase;
  let probing = false;

  /**
   * While the credentials are refused, records do not ask the registry: this loop alone does,
   * once per probe interval, with the id last refused. It does not depend on any record waiting:
   * a revoke may have taken them all, and fetching is paused until the halt ends.
   */
  function probe(id: number): void {
    if (probing) return;
    probing = true;
    void (async () => {
      try {
        while (halts.isHalted() && !closing.signal.aborted) {
          await sleep(Math.max(0, nextProbeAt - now()), closing.signal);
          await request(id).catch(() => {});
        }
      } catch {
        // closed
      } finally {
        probing = false;
      }
    })();
  }

  function request(id: number): Promise<avro.Type> {
    let pendingRequest = pending.get(id);
    if (pendingRequest === undefined) {
      pendingRequest = fetchWriter(id).finally(() => pending.delete(id));
      pending.set(id, pendingRequest);
    }
    return pendingRequest;
  }

  async function fetchWriter(id: number): Promise<avro.Type> {
    let status: number;
    let text: string;
    try {
      const response = await doFetch(`${base}/schemas/ids/${id}`, {
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (cause) {
      throw unavailable(id, `no answer: ${messageOf(cause)}`, cause);
    }
    const body = parseJson(text);
    const rule = classifyRegistryAnswer(
      status,
      typeof body?.error_code === 'number' ? body.error_code : undefined,
    );
    switch (rule.answer) {
      case 'auth-refused': {
        const message = `the schema registry at ${base} answered ${status}: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`;
        if (halts.halt(message)) probeDelay = probeBase;
        else probeDelay = Math.min(probeMax, probeDelay * 2);
        nextProbeAt = now() + probeDelay;
        probe(id);
        throw new BridgeError('REGISTRY_AUTH_FAILED', message, {
          context: { status, variable: 'SCHEMA_REGISTRY_PASSWORD' },
        });
      }
      case 'unavailable':
        throw unavailable(
          id,
          `HTTP ${status}${typeof body?.message === 'string' ? ` (${body.message})` : ''}`,
        );
      case 'unknown-id':
        halts.recover();
        return unknownId(id);
      case 'found':
        halts.recover();
        unknownSince.delete(id);
        return writerFrom(id, body);
    }
  }

  function unknownId(id: number): never {
    const at = now();
    const first = unknownSince.get(id) ?? at;
    unknownSince.set(id, first);
    if (at - first < windowMs) {
      throw new BridgeError(
        'SCHEMA_ID_NOT_FOUND_YET',
        `the registry does not know schema id ${id} yet; asking again for ${Math.ceil((first + windowMs - at) / 1000)} s more before the record is dead-lettered`,
      );
    }
    unknownUntil.set(id, at + recheckMs);
    throw new BridgeError(
      'UNKNOWN_SCHEMA_ID',
      `the registry does not know schema id ${id} (still ${Math.round((at - first) / 1000)} s after it first said so)`,
    );
  }

  async function writerFrom(id: number, body: RegistryBody | undefined): Promise<avro.Type> {
    const schemaType = body?.schemaType;
    if (!knownAvro.has(schemaType as string | undefined)) {
      const verdict = new BridgeError(
        'SCHEMA_NOT_AVRO',
        `schema id ${id} is a ${String(schemaType)} schema; this topic is read as Avro (Confluent framing with an Avro writer schema)`,
      );
      verdicts.set(id, verdict);
      throw verdict;
    }
    if (typeof body?.schema !== 'string') throw unavailable(id, 'the answer holds no schema');
    let type: avro.Type;
    try {
      type =
        Array.isArray(body.references) && body.references.length > 0
          ? ((await registry.getSchema(id)) as avro.Type)
          : avro.Type.forSchema(JSON.parse(body.schema) as avro.Schema);
    } catch (cause) {
      // The library reports a failed lookup of a reference with a status; anything else is the
      // content itself.
      if ((cause as { status?: unknown }).status !== undefined)
        throw unavailable(id, messageOf(cause), cause);
      const verdict = new BridgeError(
        'SCHEMA_UNPARSEABLE',
        `schema id ${id} is not a valid Avro schema: ${messageOf(cause)}`,
        { cause },
      );
      verdicts.set(id, verdict);
      throw verdict;
    }
    if (typeof (type as { createResolver?: unknown }).createResolver !== 'function') {
      throw new BridgeError('SCHEMA_NOT_AVRO', `schema id ${id} is not an Avro schema`);
    }
    types.set(id, type);
    return type;
  }

  return {
    registry,
    halts,
    async writerType(id) {
      const cached = types.get(id);
      if (cached !== undefined) return cached;
      const verdict = verdicts.get(id);
      if (verdict !== undefined) throw verdict;
      const until = unknownUntil.get(id);
      if (until !== undefined) {
        if (now() < until)
          throw new BridgeError('UNKNOWN_SCHEMA_ID', `the registry does not know schema id ${id}`);
        unknownUntil.delete(id);
      }
      // While the credentials are refused only the probe asks the registry.
      if (halts.isHalted()) {
        throw new BridgeError(
          'REGISTRY_AUTH_FAILED',
          `the schema registry at ${base} refuses the credentials; waiting for a probe to succeed`,
        );
      }
      return request(id);
    },
    close() {
      closing.abort();
    },
  };
}

interface RegistryBody {
  readonly schema?: unknown;
  readonly schemaType?: unknown;
  readonly references?: unknown;
  readonly error_code?: unknown;
  readonly message?: unknown;
}

function parseJson(text: string): RegistryBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as RegistryBody) : undefined;
  } catch {
    return undefined;
  }
}

/** A Map that forgets everything when full: garbage ids must not grow it without bound. */
class BoundedMap<K, V> extends Map<K, V> {
  readonly #max: number;
  constructor(max: number) {
    super();
    this.#max = max;
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.#max) this.clear();
    return super.set(key, value);
  }
}

function unavailable(id: number, detail: string, cause?: unknown): BridgeError {
  return new BridgeError(
    'REGISTRY_UNAVAILABLE',
    `schema registry lookup of id ${id} failed: ${detail}`,
    cause === undefined ? {} : { cause },
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The decoder `run` and `replay-dlq` use: the configured registry, read through the newest schema. */
export function createDecoderFromConfig(
  config: Settings,
): Decoder & { readonly halts: HaltSource; close(): void } {
  const registry = registryClientOptions(config);
  const lookup = createRegistryLookup({
    url: registry.host,
    username: registry.auth?.username,
    password: registry.auth?.password,
    unknownIdRetryMs: config.SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS,
  });
  return {
    ...createDecoder({
      lookup,
      reader: newestSchema().type,
      maxRecordBytes: config.MAX_RECORD_BYTES,
    }),
    halts: lookup.halts,
    close: () => lookup.close(),
  };
}
