import { stat, readFile } from 'node:fs/promises';
import type { LookupFunction } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import type { Settings } from '../config/settings.ts';
import type { Clock } from '../delivery/limiter-types.ts';
import { tokenUnavailableCode } from '../delivery/outcome-policy.ts';
import { parseRetryAfter } from '../delivery/retry-policy.ts';
import { BridgeError } from '../errors.ts';
import { userAgent as defaultUserAgent } from '../version.ts';
import { ConnectionPermits, type ConnectionPermit } from './connection-permits.ts';

export type { ConnectionPermit } from './connection-permits.ts';

/**
 * A thin adapter around one keep-alive undici Pool that posts bodies to
 * `/v2/digital-interaction`. It decides nothing: it reports what happened as plain data and the
 * outcome policy decides what that means.
 */

export type GongAuth =
  | { readonly kind: 'basic'; readonly accessKey: string; readonly accessKeySecret: string }
  | { readonly kind: 'bearer'; readonly token: string }
  /** Re-read when its mtime, size or inode changes, so a rotated token needs no restart. */
  | { readonly kind: 'bearer-file'; readonly path: string };

export interface GongClientOptions {
  /** https://api.gong.io, a tenant origin such as https://us-12345.api.gong.io, or one with a path prefix. */
  readonly baseUrl: string;
  readonly auth: GongAuth;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly maxConnections: number;
  readonly userAgent?: string;
  readonly clock: Clock;
  /** How often the token file may be stat'ed; default 1000 ms. */
  readonly tokenFileCheckIntervalMs?: number;
  /** DNS override (net.connect's `lookup`): pins a tenant host to an address, or to loopback in tests. */
  readonly lookup?: LookupFunction;
}

/** Gong answered. */
export interface GongResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly requestId?: string;
  readonly errors?: readonly string[];
  /** Parsed Retry-After, uncapped; the retry policy bounds it. */
  readonly retryAfterMs?: number;
  readonly durationMs: number;
}

/** No HTTP answer: timeout, reset, refused, DNS, or our token file could not be read. */
export interface GongTransportFailure {
  readonly kind: 'transport';
  /** undici or socket error code (UND_ERR_HEADERS_TIMEOUT, ECONNRESET, ...). */
  readonly code: string;
  /** Safe to log: never contains credentials. */
  readonly message: string;
  readonly durationMs: number;
}

export type GongCallResult = GongResponse | GongTransportFailure;

export interface GongClient {
  /**
   * Waits for one of the pool's connections to be free and reserves it; one permit per call,
   * released once the call's answer is read. Take it before the limiter's grant, so the call the
   * limiter counts leaves at once instead of queueing inside undici behind slow answers.
   */
  acquireConnection(signal?: AbortSignal): Promise<ConnectionPermit>;
  /**
   * Posts one serialized body. Never throws for network trouble; rejects only when aborted.
   * `onWire` runs when the request starts going out on an open connection (after any DNS, TCP
   * and TLS set-up), which is about when Gong starts counting it; not at all when it never left.
   */
  postDigitalInteraction(body: string, signal?: AbortSignal, onWire?: () => void): Promise<GongCallResult>;
  /** Forgets the cached bearer token so the next call re-reads the token file (after a 401). */
  invalidateCredentials(): void;
  close(): Promise<void>;
}

const endpoint = '/v2/digital-interaction';

// Gong's answers are a requestId and a few error strings; anything bigger is not worth parsing.
const maxAnswerBytes = 64 * 1024;

interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** At most maxAnswerBytes of the body, as UTF-8. */
  readonly text: string;
}

/**
 * One call, dispatched to the pool with a handler of its own rather than undici's `request()`:
 * that API wraps every answer in a Readable stream and an async resource, which cost about a sixth
 * of a bare POST loop's CPU here (bench/pipeline.bench.ts), and an answer of Gong's is a few
 * hundred bytes read whole.
 *
 * `onRequestStart` is undici's call right before it writes the request, once the connection (and
 * its TLS handshake) is up, and again if it has to re-send on another connection: that is when the
 * call goes on the wire (`onWire`; the caller decides what a repeat means). Informational answers
 * (1xx) are skipped, as undici's own request handler does. The body is read to its end even past
 * maxAnswerBytes, so the connection can be reused, but only the first maxAnswerBytes are kept.
 */
class AnswerReader implements Dispatcher.DispatchHandler {
  readonly #onWire: (() => void) | undefined;
  readonly #resolve: (answer: RawAnswer) => void;
  readonly #reject: (error: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #abortedWith: Error | undefined;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(
    onWire: (() => void) | undefined,
    resolve: (answer: RawAnswer) => void,
    reject: (error: unknown) => void,
  ) {
    this.#onWire = onWire;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Stops the call: at once if it started, or as soon as undici hands it a connection. */
  abort(reason: Error): void {
    this.#abortedWith = reason;
    this.#controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortedWith !== undefined) {
      controller.abort(this.#abortedWith);
      return;
    }
    this.#onWire?.();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders) {
    if (status < 200) return;
    this.#status = status;
    this.#headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#size >= maxAnswerBytes) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  onResponseEnd(): void {
    const bytes = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    this.#resolve({
      status: this.#status,
      headers: this.#headers,
      text: bytes.subarray(0, maxAnswerBytes).toString('utf8'),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#reject(error);
  }
}

export function createGongClient(options: GongClientOptions): GongClient {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new BridgeError('CONFIG_INVALID', `GONG_BASE_URL must be http(s), got ${base.protocol}`, {
      context: { variable: 'GONG_BASE_URL' },
    });
  }
  // Keep any path prefix (a gateway in front of Gong) and drop a trailing slash.
  const path = `${base.pathname.replace(/\/+$/, '')}${endpoint}`;
  const pool = new Pool(base.origin, {
    connections: options.maxConnections,
    connectTimeout: options.connectTimeoutMs,
    ...(options.lookup === undefined
      ? {}
      : { connect: { timeout: options.connectTimeoutMs, lookup: options.lookup } }),
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    keepAliveTimeout: 30_000,
    // One request per socket at a time: a pipelined request behind a stuck one would time out for
    // reasons that are not its own.
    pipelining: 1,
  });
  const permits = new ConnectionPermits(options.maxConnections);
  const credentials = createCredentials(
    options.auth,
    options.clock,
    options.tokenFileCheckIntervalMs ?? 1000,
  );
  const ua = options.userAgent ?? defaultUserAgent;
  // The headers change only with the credentials (a rotated token file): built once per value.
  let headers: Record<string, string> = {};
  const headersFor = (authorization: string) => {
    if (headers.authorization !== authorization) {
      headers = {
        authorization,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': ua,
      };
    }
    return headers;
  };

  /** Resolves with Gong's answer; rejects with undici's error, or with the reason once `signal` aborts. */
  function dispatch(
    authorization: string,
    body: string,
    signal: AbortSignal | undefined,
    onWire: (() => void) | undefined,
  ): Promise<RawAnswer> {
    const request = { method: 'POST', path, headers: headersFor(authorization), body } as const;
    if (signal === undefined) {
      return new Promise((resolve, reject) =>
        pool.dispatch(request, new AnswerReader(onWire, resolve, reject)),
      );
    }
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        reader.abort(signal.reason as Error);
        reject(signal.reason);
      };
      const detached =
        <T>(settle: (value: T) => void) =>
        (value: T) => {
          signal.removeEventListener('abort', onAbort);
          settle(value);
        };
      const reader = new AnswerReader(onWire, detached(resolve), detached(reject));
      signal.addEventListener('abort', onAbort, { once: true });
      pool.dispatch(request, reader);
    });
  }

  return {
    acquireConnection: (signal) => permits.acquire(signal),
    async postDigitalInteraction(body, signal, onWire) {
      const started = options.clock.now();
      // Static credentials answer synchronously; only a token file needs a (throttled) stat.
      const pending = credentials.header();
      const authorization = typeof pending === 'string' ? pending : await pending;
      if (authorization === undefined) {
        return {
          kind: 'transport',
          code: tokenUnavailableCode,
          message: credentials.problem(),
          durationMs: 0,
        };
      }
      try {
        const answer = await dispatch(authorization, body, signal, onWire);
        const parsed = parseAnswer(answer.text);
        const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], options.clock.wallNow());
        return {
          kind: 'response',
          status: answer.status,
          ...(parsed.requestId === undefined ? {} : { requestId: parsed.requestId }),
          ...(parsed.errors === undefined ? {} : { errors: parsed.errors }),
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          durationMs: options.clock.now() - started,
        };
      } catch (error) {
        if (signal?.aborted === true) throw signal.reason ?? error;
        return {
          kind: 'transport',
          code: errorCode(error),
          message: safeMessage(error),
          durationMs: options.clock.now() - started,
        };
      }
    },
    invalidateCredentials() {
      credentials.invalidate();
    },
    async close() {
      permits.close();
      await pool.close();
    },
  };
}

/** Builds client options from the parsed configuration; flags may override the base URL. */
export function gongClientOptionsFromConfig(
  config: Settings,
  clock: Clock,
  overrides: { baseUrl?: string } = {},
): GongClientOptions {
  return {
    baseUrl: overrides.baseUrl ?? config.GONG_BASE_URL,
    auth: authFromConfig(config),
    connectTimeoutMs: config.GONG_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.GONG_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: config.GONG_BODY_TIMEOUT_MS,
    maxConnections: config.GONG_MAX_CONNECTIONS,
    clock,
  };
}

export function authFromConfig(config: Settings): GongAuth {
  const basic = config.GONG_ACCESS_KEY !== undefined || config.GONG_ACCESS_KEY_SECRET !== undefined;
  const bearer = config.GONG_BEARER_TOKEN !== undefined || config.GONG_BEARER_TOKEN_FILE !== undefined;
  if (basic && bearer) {
    throw new BridgeError(
      'CONFIG_INVALID',
      'set either GONG_ACCESS_KEY/GONG_ACCESS_KEY_SECRET or a bearer token, not both',
      {
        context: { variable: 'GONG_BEARER_TOKEN' },
      },
    );
  }
  if (basic) {
    if (config.GONG_ACCESS_KEY === undefined || config.GONG_ACCESS_KEY_SECRET === undefined) {
      const missing = config.GONG_ACCESS_KEY === undefined ? 'GONG_ACCESS_KEY' : 'GONG_ACCESS_KEY_SECRET';
      throw new BridgeError('CONFIG_INVALID', `${missing} is required with Basic auth but is not set`, {
        context: { variable: missing },
      });
    }
    return {
      kind: 'basic',
      accessKey: config.GONG_ACCESS_KEY,
      accessKeySecret: config.GONG_ACCESS_KEY_SECRET,
    };
  }
  // loadConfig treats GONG_BEARER_TOKEN_FILE as the _FILE form of the secret, so GONG_BEARER_TOKEN
  // then holds the file's contents at start-up (both set by hand is refused there). The file
  // wins: re-reading it is what makes rotation work without a restart.
  if (config.GONG_BEARER_TOKEN_FILE !== undefined)
    return { kind: 'bearer-file', path: config.GONG_BEARER_TOKEN_FILE };
  if (config.GONG_BEARER_TOKEN !== undefined) return { kind: 'bearer', token: config.GONG_BEARER_TOKEN };
  throw new BridgeError(
    'CONFIG_INVALID',
    'Gong credentials are required: GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_BEARER_TOKEN(_FILE)',
    { context: { variable: 'GONG_ACCESS_KEY' } },
  );
}

interface Credentials {
  /** The Authorization header, or undefined when the token file cannot be read. */
  header(): string | Promise<string | undefined>;
  problem(): string;
  invalidate(): void;
}

function createCredentials(auth: GongAuth, clock: Clock, checkIntervalMs: number): Credentials {
  if (auth.kind === 'basic') {
    const header = `Basic ${Buffer.from(`${auth.accessKey}:${auth.accessKeySecret}`).toString('base64')}`;
    return { header: () => header, problem: () => '', invalidate: () => {} };
  }
  if (auth.kind === 'bearer') {
    const header = `Bearer ${auth.token}`;
    return { header: () => header, problem: () => '', invalidate: () => {} };
  }
  const path = auth.path;
  let header: string | undefined;
  let signature = '';
  let checkedAt = Number.NEGATIVE_INFINITY;
  let problem = '';
  // Concurrent callers share one stat/read instead of each touching the file.
  let pending: Promise<void> | undefined;

  const refresh = async () => {
    try {
      const info = await stat(path);
      const next = `${info.mtimeMs}:${info.size}:${info.ino}`;
      if (next === signature && header !== undefined) return;
      const token = (await readFile(path, 'utf8')).trim();
      if (token === '') {
        header = undefined;
        problem = `bearer token file ${path} is empty`;
        return;
      }
      header = `Bearer ${token}`;
      signature = next;
      problem = '';
    } catch (error) {
      // Keep a token we already have: a rotation that briefly removes the file should not
      // halt delivery. Without one, the engine treats this as an auth halt and probes.
      problem = `cannot read bearer token file ${path}: ${errorCode(error)}`;
    }
  };

  return {
    async header() {
      const now = clock.now();
      if (now - checkedAt >= checkIntervalMs) {
        checkedAt = now;
        pending ??= refresh().finally(() => {
          pending = undefined;
        });
      }
      if (pending !== undefined) await pending;
      return header;
    },
    problem: () => problem || `bearer token file ${path} has no token`,
    invalidate() {
      checkedAt = Number.NEGATIVE_INFINITY;
      signature = '';
    },
  };
}

function parseAnswer(text: string): { requestId?: string; errors?: string[] } {
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // A proxy's HTML error page: keep a short excerpt so the dead-letter record says something.
    return { errors: [`non-JSON answer: ${text.slice(0, 200)}`] };
  }
  if (value === null || typeof value !== 'object') return {};
  const record = value as Record<string, unknown>;
  const out: { requestId?: string; errors?: string[] } = {};
  if (typeof record.requestId === 'string') out.requestId = record.requestId;
  if (Array.isArray(record.errors)) out.errors = record.errors.map((entry) => String(entry));
  return out;
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const cause = (error as { cause?: unknown }).cause;
    if (cause !== undefined && cause !== error) return errorCode(cause);
  }
  return 'UNKNOWN';
}

/**
 * undici messages name the failure ("Headers Timeout Error", "other side closed"), never the
 * request headers, so they are safe; we still cut them short and strip anything after a URL's
 * userinfo in case a base URL ever carried credentials.
 */
function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\/\/[^/@\s]*@/g, '//<redacted>@').slice(0, 300);
}
