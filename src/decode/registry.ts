import type { Sleep } from '../delivery/limiter-types.ts';
import { systemSleep } from '../delivery/system-time.ts';
import { BridgeError } from '../errors.ts';
import { HaltState, type HaltSource } from '../kafka/halt-state.ts';
import { classifyRegistryAnswer } from './decode-policy.ts';

/**
 * Writer schemas from a Confluent-compatible registry (Confluent, or Apicurio's ccompat API), of
 * every type: the decoders (formats/) make sense of the text, this module only fetches it and
 * sorts each answer by the registry table of decode-policy.ts:
 *  - the schema, cached for good (an id's content never changes);
 *  - an id the registry does not know: asked again for SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS
 *    (SCHEMA_ID_NOT_FOUND_YET, retried), then UNKNOWN_SCHEMA_ID (the record is dead-lettered),
 *    believed for unknownIdRecheckMs without asking again;
 *  - refused credentials (401/403): REGISTRY_AUTH_FAILED, and the halt source reports a halt
 *    until a probe (one at a time, backing off) is answered again;
 *  - anything else (down, slow, a 404 without 40403, a redirect): REGISTRY_UNAVAILABLE, retried.
 * One request per id at a time (concurrent misses merged); no retries of its own: the runtime
 * retries with its backoff.
 */

export interface RegistrySchema {
  /** AVRO, JSON or PROTOBUF as the registry names them (an absent schemaType means AVRO). */
  readonly schemaType: string;
  readonly schema: string;
  /**
   * The schemas it references (Avro named types, Protobuf imports, JSON Schema $refs), each
   * resolved with its own references before it, in an order a parser can take them in.
   */
  readonly references: readonly ReferencedSchema[];
}

export interface ReferencedSchema {
  /** The name the referencing schema uses: an Avro full name, an import path, a $ref URL. */
  readonly name: string;
  readonly subject: string;
  readonly version: number;
  readonly schemaType: string;
  readonly schema: string;
}

/** What the decoders need from a registry. */
export interface SchemaSource {
  schema(id: number): Promise<RegistrySchema>;
  /** The subjects the id is registered under (GET /schemas/ids/{id}/versions). */
  subjects(id: number): Promise<readonly string[]>;
  /** Halted while the registry refuses the credentials. */
  readonly halts?: HaltSource | undefined;
  close?(): void;
}

export interface LatestSchema extends RegistrySchema {
  readonly id: number;
  readonly subject: string;
  readonly version: number;
}

export interface RegistryLookup extends SchemaSource {
  /** The newest version of a subject, or undefined when the subject does not exist. */
  latest(subject: string): Promise<LatestSchema | undefined>;
  readonly halts: HaltSource;
  /** Stops the probe loop of an auth halt. */
  close(): void;
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

interface RegistryBody {
  readonly schema?: unknown;
  readonly schemaType?: unknown;
  readonly references?: unknown;
  readonly id?: unknown;
  readonly subject?: unknown;
  readonly version?: unknown;
  readonly error_code?: unknown;
  readonly message?: unknown;
}

type Answer =
  | { readonly kind: 'found'; readonly body: unknown }
  | { readonly kind: 'unknown-id' }
  | { readonly kind: 'no-such-subject' };

/**
 * The registry's own "subject not found" (40401) and "version not found" (40402): an answer about
 * the subject, where the table (which is about ids) counts any 404 but 40403 as a misaddressed
 * registry.
 */
const subjectAbsentCodes = new Set([40401, 40402]);

/** Deeper reference chains than this are a loop or garbage. */
const MAX_REFERENCE_DEPTH = 32;

/**
 * The registry's HTTP side: one GET sorted by the registry table, and the auth halt with its
 * probe. While the credentials are refused, records do not ask the registry: one probe loop does,
 * once per probe interval, with the request last refused. It does not depend on any record
 * waiting: a revoke may have taken them all, and fetching is paused until the halt ends.
 */
function createRegistryClient(options: RegistryLookupOptions) {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;
  const probeBase = options.probeBaseMs ?? 1_000;
  const probeMax = options.probeMaxMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? systemSleep;
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
  };
  if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  }
  const halts = new HaltState('registry-auth', now);
  const closing = new AbortController();
  let nextProbeAt = 0;
  let probeDelay = probeBase;
  let probing = false;
  let lastRefused = '/subjects';

  function probe(): void {
    if (probing) return;
    probing = true;
    void (async () => {
      try {
        while (halts.isHalted() && !closing.signal.aborted) {
          await sleep(Math.max(0, nextProbeAt - now()), closing.signal);
          await get(lastRefused, 'probe').catch(() => {});
        }
      } catch {
        // closed
      } finally {
        probing = false;
      }
    })();
  }

  /** One GET, sorted by the registry table; `what` names it in messages. */
  async function get(path: string, what: string, subjectPath = false): Promise<Answer> {
    let status: number;
    let text: string;
    try {
      const response = await doFetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      status = response.status;
      text = await response.text();
    } catch (cause) {
      throw unavailable(what, `no answer: ${messageOf(cause)}`, cause);
    }
    const body = parseJson(text);
    if (subjectPath && status === 404 && subjectAbsentCodes.has(body?.error_code as number)) {
      halts.recover();
      return { kind: 'no-such-subject' };
    }
    const rule = classifyRegistryAnswer(
      status,
      typeof body?.error_code === 'number' ? body.error_code : undefined,
    );
    switch (rule.answer) {
      case 'auth-refused': {
        const message = `the schema registry at ${base} answered ${status}: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`;
        lastRefused = path;
        if (halts.halt(message)) probeDelay = probeBase;
        else probeDelay = Math.min(probeMax, probeDelay * 2);
        nextProbeAt = now() + probeDelay;
        probe();
        throw new BridgeError('REGISTRY_AUTH_FAILED', message, {
          context: { status, variable: 'SCHEMA_REGISTRY_PASSWORD' },
        });
      }
      case 'unavailable':
        throw unavailable(
          what,
          `HTTP ${status}${typeof body?.message === 'string' ? ` (${body.message})` : ''}`,
        );
      case 'unknown-id':
        halts.recover();
        return { kind: 'unknown-id' };
      case 'found':
        halts.recover();
        return { kind: 'found', body };
    }
  }

  return {
    halts,
    get,
    /** While the credentials are refused only the probe asks the registry. */
    refuseWhileHalted(): void {
      if (halts.isHalted()) {
        throw new BridgeError(
          'REGISTRY_AUTH_FAILED',
          `the schema registry at ${base} refuses the credentials; waiting for a probe to succeed`,
        );
      }
    },
    close: () => closing.abort(),
  };
}

export function createRegistryLookup(options: RegistryLookupOptions): RegistryLookup {
  const windowMs = options.unknownIdRetryMs ?? 30_000;
  const recheckMs = options.unknownIdRecheckMs ?? 5_000;
  const now = options.now ?? (() => performance.now());
  const client = createRegistryClient(options);
  const { get, halts, refuseWhileHalted } = client;
  const schemas = new Map<number, RegistrySchema>();
  const subjectLists = new Map<number, readonly string[]>();
  const versions = new Map<string, RegistryBody>();
  /** When the registry first answered 40403 for an id still unknown. */
  const unknownSince = new BoundedMap<number, number>(1_000);
  /** Past the window: believed unknown until then, without asking. */
  const unknownUntil = new BoundedMap<number, number>(1_000);
  const pending = new Map<string, Promise<unknown>>();

  /** Merges concurrent identical requests. */
  function once<T>(key: string, work: () => Promise<T>): Promise<T> {
    let request = pending.get(key) as Promise<T> | undefined;
    if (request === undefined) {
      request = work().finally(() => pending.delete(key));
      pending.set(key, request);
    }
    return request;
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

  async function fetchSchema(id: number): Promise<RegistrySchema> {
    const what = `schema id ${id}`;
    const answer = await get(`/schemas/ids/${id}`, what);
    if (answer.kind !== 'found') return unknownId(id);
    unknownSince.delete(id);
    const body = answer.body as RegistryBody | undefined;
    if (typeof body?.schema !== 'string') throw unavailable(what, 'the answer holds no schema');
    const schema: RegistrySchema = {
      schemaType: schemaTypeOf(body),
      schema: body.schema,
      references: await resolveReferences(body.references, what, new Set(), 0),
    };
    schemas.set(id, schema);
    return schema;
  }

  /** Each reference's schema, its own references first, once each. */
  async function resolveReferences(
    references: unknown,
    what: string,
    seen: Set<string>,
    depth: number,
  ): Promise<ReferencedSchema[]> {
    if (!Array.isArray(references) || references.length === 0) return [];
    if (depth > MAX_REFERENCE_DEPTH) throw unavailable(what, 'references nest too deep (a cycle?)');
    const out: ReferencedSchema[] = [];
    for (const reference of references as { name?: unknown; subject?: unknown; version?: unknown }[]) {
      const { name, subject, version } = reference;
      if (typeof name !== 'string' || typeof subject !== 'string' || typeof version !== 'number') {
        throw unavailable(what, `a reference is not {name, subject, version}: ${JSON.stringify(reference)}`);
      }
      const key = `${subject}\u0000${version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const body = await subjectVersion(subject, String(version), `${what}, reference ${name}`);
      if (body === undefined || typeof body.schema !== 'string') {
        throw unavailable(
          what,
          `reference ${name} (subject ${subject} version ${version}) is not in the registry`,
        );
      }
      out.push(...(await resolveReferences(body.references, what, seen, depth + 1)));
      out.push({ name, subject, version, schemaType: schemaTypeOf(body), schema: body.schema });
    }
    return out;
  }

  /** GET /subjects/{s}/versions/{v}; undefined when the registry says the subject or version does not exist. */
  async function subjectVersion(
    subject: string,
    version: string,
    what: string,
  ): Promise<RegistryBody | undefined> {
    const key = `${subject}\u0000${version}`;
    const cached = versions.get(key);
    if (cached !== undefined) return cached;
    const path = `/subjects/${encodeURIComponent(subject)}/versions/${version}`;
    const body = await once(path, async () => {
      const answer = await get(path, what, true);
      return answer.kind === 'found' ? (answer.body as RegistryBody) : undefined;
    });
    // "latest" moves; a numbered version never changes.
    if (body !== undefined && version !== 'latest') versions.set(key, body);
    return body;
  }

  return {
    halts,
    async schema(id) {
      const cached = schemas.get(id);
      if (cached !== undefined) return cached;
      const until = unknownUntil.get(id);
      if (until !== undefined) {
        if (now() < until)
          throw new BridgeError('UNKNOWN_SCHEMA_ID', `the registry does not know schema id ${id}`);
        unknownUntil.delete(id);
      }
      refuseWhileHalted();
      return once(`/schemas/ids/${id}`, () => fetchSchema(id));
    },
    async subjects(id) {
      const cached = subjectLists.get(id);
      if (cached !== undefined) return cached;
      refuseWhileHalted();
      return once(`/schemas/ids/${id}/versions`, async () => {
        const answer = await get(`/schemas/ids/${id}/versions`, `the subjects of schema id ${id}`);
        const list =
          answer.kind === 'found' && Array.isArray(answer.body)
            ? (answer.body as { subject?: unknown }[])
                .map((entry) => entry.subject)
                .filter((subject): subject is string => typeof subject === 'string')
            : [];
        // A schema registered under one more subject later is rare, and a restart picks it up.
        if (answer.kind === 'found') subjectLists.set(id, list);
        return list;
      });
    },
    async latest(subject) {
      refuseWhileHalted();
      const what = `the latest schema of subject ${subject}`;
      const body = await subjectVersion(subject, 'latest', what);
      if (body === undefined || typeof body.schema !== 'string') return undefined;
      if (typeof body.id !== 'number' || typeof body.version !== 'number')
        throw unavailable(what, 'the answer has no id or version');
      return {
        id: body.id,
        subject,
        version: body.version,
        schemaType: schemaTypeOf(body),
        schema: body.schema,
        references: await resolveReferences(body.references, what, new Set(), 0),
      };
    },
    close: client.close,
  };
}

function schemaTypeOf(body: RegistryBody): string {
  const type = body.schemaType;
  return typeof type === 'string' && type !== '' ? type.toUpperCase() : 'AVRO';
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

function unavailable(what: string, detail: string, cause?: unknown): BridgeError {
  return new BridgeError(
    'REGISTRY_UNAVAILABLE',
    `schema registry lookup of ${what} failed: ${detail}`,
    cause === undefined ? {} : { cause },
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
