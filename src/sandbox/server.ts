import { open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import type { WriteStream } from 'node:fs';
import { systemClock, systemSleep, type Clock, type Sleep } from '../shared/time.ts';
import { BridgeError } from '../errors.ts';
import { contractValidator } from '../gong/validate.ts';
import { checkAuthorization, type SandboxCredentials } from './auth.ts';
import { CallLog, type CallOutcome, type CallRecord, type CallStats } from './call-log.ts';
import { EventStore, type AcceptedEvent } from './event-store.ts';
import {
  applyFaultPatch,
  defaultFaults,
  drawFaults,
  faultPatchSchema,
  type FaultDraw,
  type FaultPatch,
  type FaultSettings,
} from './faults.ts';
import { SandboxQuota, type QuotaSnapshot } from './quota.ts';
import { newRequestId, seededRandom, type Random } from './random.ts';
import { readBody } from './read-body.ts';

/**
 * A local stand-in for Gong's `POST /v2/digital-interaction`, faithful where a client can tell the
 * difference: authentication, the rolling per-second and daily limits with Retry-After, the
 * contract's 400s, deduplication by eventId with 409, and injectable failures.
 *
 * Checks run in this order, each for a reason:
 *   1. 503 outage          an outage is the gateway being down: nothing else is looked at.
 *   2. 401 credentials     an unauthenticated call belongs to no account, so it uses no quota and
 *                          learns nothing about limits or bodies.
 *   3. 413 Content-Length  a body declared too large can never succeed; saying so before 429
 *                          spares a client from waiting out a throttle only to be refused.
 *   4. 429 rate / daily    every authenticated call that gets past here uses budget (is "counted"),
 *                          whatever its answer afterwards: 400s, 409s and failures cost a real quota
 *                          too. Calls answered 429 are not counted, or a client that retries
 *                          promptly would extend its own throttle for ever.
 *   5. 413 streamed bytes  a chunked body has no Content-Length; its size is only known by reading.
 *   6. injected 5xx        --fail-rate: the server failed before storing anything; a retry may pass.
 *   7. 400 malformed       wrong Content-Type, invalid UTF-8 or JSON, or a body that breaks a
 *                          rule the contract states (the bridge's validator, documented tier
 *                          only: no limits of the bridge's, and the inferred rules pass, since
 *                          nothing says Gong refuses them). With `strict`, the inferred rules are
 *                          refused too, like a Gong that enforced all of them would.
 *   8. 409 duplicate       only a valid body has an eventId worth deduplicating.
 *   9. 500 lost reply      --lost-reply-rate: the event is stored, then the answer fails, so a
 *                          correct client retries and gets 409, which it must treat as delivered.
 *  10. 200 {requestId}
 * Latency (--latency-ms) delays every reply of the API endpoint but not admission, so the rate
 * limit judges calls by when the client sent them.
 */

export const API_PATH = '/v2/digital-interaction';
const JSON_TYPE = 'application/json; charset=utf-8';
const CONTROL_BODY_LIMIT = 64 * 1024;
const LIST_LIMIT_DEFAULT = 1000;
const LIST_LIMIT_MAX = 100_000;
const CLOSE_GRACE_MS = 1000;

export interface SandboxOptions extends SandboxCredentials {
  /** 0 (the default) picks a free port. */
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  /** Calls per rolling second; 0 disables the limit. Default 3, Gong's default. */
  readonly rps?: number | undefined;
  /** Calls per rolling 24 hours; 0 disables the limit. Default 10,000, Gong's default. */
  readonly daily?: number | undefined;
  /** Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined;
  /** Bodies kept for inspection (the most recent ones); eventIds are always all kept. Default 10,000. */
  readonly keepBodies?: number | undefined;
  /** Calls kept in the /_sandbox/calls log. Default 100,000. */
  readonly keepCalls?: number | undefined;
  readonly faults?: Partial<FaultSettings> | undefined;
  /** Start inside an outage lasting this long. */
  readonly outageMs?: number | undefined;
  /** Seeds the fault generator; ignored when `random` is given. */
  readonly seed?: number | undefined;
  readonly random?: Random | undefined;
  readonly clock?: Clock | undefined;
  readonly sleep?: Sleep | undefined;
  /** Append every accepted body to this file, one JSON document per line. */
  readonly recordFile?: string | undefined;
  /**
   * Also answer 400 to a body that breaks an inferred rule (one Gong does not document), as a
   * Gong that enforced them would. Off by default: the sandbox follows the published contract.
   */
  readonly strict?: boolean | undefined;
  readonly requestId?: (() => string) | undefined;
}

export interface FaultView extends FaultSettings {
  /** Wall-clock ISO time the current outage ends, or null. */
  readonly outageUntil: string | null;
  readonly outageRemainingMs: number;
}

export interface SandboxStats extends CallStats {
  readonly startedAt: string;
  /** Distinct events stored. */
  readonly accepted: number;
  /** 409 answers (retries of stored events). */
  readonly duplicates: number;
  readonly limits: QuotaSnapshot;
  readonly faults: FaultView;
  readonly maxBodyBytes: number;
  /** Inferred rules are refused too (--strict). */
  readonly strict: boolean;
  /** Set when --record could not be written. */
  readonly recordError: string | null;
}

export interface AcceptedEventView {
  readonly eventId: string;
  readonly acceptedAt: string;
  readonly conflicts: number;
  /** The body as parsed JSON, or null when it fell out of the kept window. */
  readonly body: unknown;
}

export interface RunningSandbox {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  stats(): SandboxStats;
  accepted(offset?: number, limit?: number): AcceptedEventView[];
  event(eventId: string): AcceptedEventView | undefined;
  calls(since?: number, limit?: number): CallRecord[];
  faults(): FaultView;
  setFaults(patch: FaultPatch): FaultView;
  /** Forgets accepted events, calls, counters and quota use; restores the start-up faults. */
  reset(): void;
  close(): Promise<void>;
}

function wholeNumber(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 0) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `sandbox ${name} must be a whole number >= 0, got ${String(value)}`,
    );
  }
  return result;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const credentials: SandboxCredentials = {
    accessKey: options.accessKey,
    accessKeySecret: options.accessKeySecret,
    bearerToken: options.bearerToken,
  };
  const hasBasic = options.accessKey !== undefined && options.accessKeySecret !== undefined;
  if (!hasBasic && options.bearerToken === undefined) {
    throw new BridgeError(
      'CONFIG_INVALID',
      'sandbox needs credentials: an access key and secret, a bearer token, or both',
    );
  }
  if ((options.accessKey === undefined) !== (options.accessKeySecret === undefined)) {
    throw new BridgeError('CONFIG_INVALID', 'sandbox access key and access key secret go together');
  }
  const rps = wholeNumber('rps', options.rps, 3);
  const daily = wholeNumber('daily', options.daily, 10_000);
  const maxBodyBytes = wholeNumber('maxBodyBytes', options.maxBodyBytes, 1_048_576);
  const keepBodies = wholeNumber('keepBodies', options.keepBodies, 10_000);
  const keepCalls = wholeNumber('keepCalls', options.keepCalls, 100_000);
  const initialFaultsParsed = faultPatchSchema.safeParse({ ...options.faults });
  if (!initialFaultsParsed.success) {
    throw new BridgeError('CONFIG_INVALID', `sandbox faults: ${describeIssues(initialFaultsParsed.error)}`);
  }
  const initialFaults = applyFaultPatch(defaultFaults, initialFaultsParsed.data);
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? systemSleep;
  const random = options.random ?? seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const requestId = options.requestId ?? (() => newRequestId());
  const strict = options.strict === true;
  const validate = contractValidator(strict);

  let recordHandle: FileHandle | undefined;
  let recorder: WriteStream | undefined;
  let recordError: string | null = null;
  if (options.recordFile !== undefined) {
    try {
      recordHandle = await open(options.recordFile, 'a');
    } catch (cause) {
      throw new BridgeError('CONFIG_INVALID', `cannot open record file ${options.recordFile}`, { cause });
    }
    recorder = recordHandle.createWriteStream();
    recorder.on('error', (error) => {
      recordError = error.message;
    });
  }

  const quota = new SandboxQuota({ rps, daily });
  const events = new EventStore(keepBodies);
  const callLog = new CallLog(keepCalls);
  let faults = initialFaults;
  const outageMs = wholeNumber('outageMs', options.outageMs, 0);
  let outageUntil = outageMs > 0 ? clock.now() + outageMs : Number.NEGATIVE_INFINITY;
  let startedAt = clock.wallNow();
  const closing = new AbortController();

  const faultView = (): FaultView => {
    const remaining = Math.max(0, Math.ceil(outageUntil - clock.now()));
    return {
      ...faults,
      outageUntil: remaining > 0 ? new Date(clock.wallNow() + remaining).toISOString() : null,
      outageRemainingMs: remaining,
    };
  };

  const setFaults = (patch: FaultPatch): FaultView => {
    faults = applyFaultPatch(faults, patch);
    if (patch.outageMs !== undefined) outageUntil = clock.now() + patch.outageMs;
    return faultView();
  };

  const stats = (): SandboxStats => ({
    startedAt: new Date(startedAt).toISOString(),
    ...callLog.stats(),
    accepted: events.size,
    duplicates: events.conflictTotal,
    limits: quota.snapshot(clock.now()),
    faults: faultView(),
    maxBodyBytes,
    strict,
    recordError,
  });

  const view = (event: AcceptedEvent): AcceptedEventView => ({
    eventId: event.eventId,
    acceptedAt: new Date(event.acceptedAt).toISOString(),
    conflicts: event.conflicts,
    body: event.body === null ? null : (JSON.parse(event.body) as unknown),
  });

  const reset = () => {
    quota.clear();
    events.clear();
    callLog.clear();
    faults = initialFaults;
    outageUntil = Number.NEGATIVE_INFINITY;
    startedAt = clock.wallNow();
  };

  /** One call to the API endpoint, from arrival to the logged reply. */
  async function interaction(
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
  ): Promise<void> {
    const t = clock.now();
    const id = requestId();
    const draw: FaultDraw = drawFaults(faults, random);
    let counted = false;
    let eventId: string | null = null;
    let continued = false;

    const answer = async (
      status: number,
      outcome: CallOutcome,
      errors?: readonly string[],
      headers: Record<string, string> = {},
    ) => {
      callLog.add({ at: clock.wallNow(), t, status, outcome, counted, eventId, requestId: id });
      if (draw.latencyMs > 0) {
        try {
          await sleep(draw.latencyMs, closing.signal);
        } catch {
          res.destroy();
          return;
        }
      }
      // Refused before 100 Continue, the client may never send its body; the connection is then
      // out of step and must not be reused.
      const closeAfter = expectsContinue && !continued ? { Connection: 'close' } : {};
      const body = errors === undefined ? { requestId: id } : { requestId: id, errors };
      send(res, status, body, { ...headers, ...closeAfter });
    };

    if (outageUntil > t) {
      const headers: Record<string, string> = faults.outageRetryAfter
        ? { 'Retry-After': String(Math.ceil((outageUntil - t) / 1000)) }
        : {};
      return answer(faults.outageStatus, 'outage', ['Service temporarily unavailable'], headers);
    }

    const auth = checkAuthorization(req.headers.authorization, credentials);
    if (!auth.ok) {
      const challenge = hasBasic ? 'Basic realm="gong"' : 'Bearer realm="gong"';
      return answer(401, 'unauthorized', [auth.error], { 'WWW-Authenticate': challenge });
    }
    callLog.noteAuthenticated(t);

    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) {
      return answer(413, 'too-large', [
        `Request body of ${declared} bytes exceeds the ${maxBodyBytes}-byte limit`,
      ]);
    }

    const admission = quota.tryAdmit(t);
    if (!admission.admitted) {
      const message =
        admission.reason === 'rate'
          ? `API request limit exceeded: more than ${rps} calls per second`
          : `API request limit exceeded: more than ${daily} calls per day`;
      return answer(429, admission.reason === 'rate' ? 'throttled-rate' : 'throttled-daily', [message], {
        'Retry-After': String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000))),
      });
    }
    counted = true;

    if (expectsContinue) {
      res.writeContinue();
      continued = true;
    }
    const read = await readBody(req, maxBodyBytes, Math.max(4 * maxBodyBytes, 16 * 1024 * 1024));
    callLog.noteBytes(read.ok ? read.bytes.length : read.received);
    if (!read.ok) {
      return answer(413, 'too-large', [`Request body exceeds the ${maxBodyBytes}-byte limit`]);
    }

    if (draw.failStatus !== null) {
      return answer(draw.failStatus, 'injected-failure', [
        'Failed to complete the operation due to an unexpected error',
      ]);
    }

    const typeError = jsonContentTypeError(req.headers['content-type']);
    if (typeError !== null) return answer(400, 'invalid', [typeError]);
    const parsed = parseJson(read.bytes);
    if (!parsed.ok) return answer(400, 'invalid', [parsed.error]);
    const validation = validate(parsed.value);
    if (!validation.ok) return answer(400, 'invalid', validation.errors);
    eventId = validation.body.eventId;

    if (events.has(eventId)) {
      events.noteConflict(eventId);
      return answer(409, 'duplicate', [`Event ${eventId} was already reported`]);
    }

    // Stored compactly: a body pretty-printed by a client would waste the kept window and break JSONL.
    const compact = JSON.stringify(parsed.value);
    events.add(eventId, clock.wallNow(), compact);
    recorder?.write(`${compact}\n`);

    if (draw.lostReply) {
      return answer(500, 'lost-reply', ['Failed to complete the operation due to an unexpected error']);
    }
    return answer(200, 'accepted');
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) {
    const method = req.method ?? 'GET';
    const only = (allowed: string) => {
      if (method === allowed) return true;
      send(res, 405, { errors: [`${method} is not allowed on ${path}; use ${allowed}`] }, { Allow: allowed });
      return false;
    };
    switch (path) {
      case '/_sandbox/health':
        if (only('GET')) send(res, 200, { ok: true });
        return;
      case '/_sandbox/stats':
        if (only('GET')) send(res, 200, stats());
        return;
      case '/_sandbox/accepted': {
        if (!only('GET')) return;
        const wanted = query.get('eventId');
        if (wanted !== null) {
          const event = events.get(wanted);
          send(res, 200, { total: events.size, events: event === undefined ? [] : [view(event)] });
          return;
        }
        const offset = queryNumber(query, 'offset', 0, Number.MAX_SAFE_INTEGER);
        const limit = queryNumber(query, 'limit', LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX);
        send(res, 200, { total: events.size, offset, limit, events: events.list(offset, limit).map(view) });
        return;
      }
      case '/_sandbox/calls': {
        if (!only('GET')) return;
        const since = queryNumber(query, 'since', 0, Number.MAX_SAFE_INTEGER);
        const limit = queryNumber(query, 'limit', LIST_LIMIT_MAX, LIST_LIMIT_MAX);
        const calls = callLog.since(since, limit);
        send(res, 200, { calls, lastSeq: calls.at(-1)?.seq ?? since });
        return;
      }
      case '/_sandbox/reset':
        if (!only('POST')) return;
        reset();
        send(res, 200, { ok: true });
        return;
      case '/_sandbox/faults': {
        if (method === 'GET') return send(res, 200, faultView());
        if (!only('POST')) return;
        const read = await readBody(req, CONTROL_BODY_LIMIT, CONTROL_BODY_LIMIT * 4);
        if (!read.ok) return send(res, 413, { errors: ['fault settings body too large'] });
        // Any Content-Type: `curl -d` sends form-urlencoded, and this endpoint is for people at a shell.
        const parsed = parseJson(read.bytes);
        if (!parsed.ok) return send(res, 400, { errors: [parsed.error] });
        const patch = faultPatchSchema.safeParse(parsed.value);
        if (!patch.success) {
          return send(res, 400, { errors: issueMessages(patch.error) });
        }
        send(res, 200, setFaults(patch.data));
        return;
      }
      default:
        send(res, 404, { errors: [`No such sandbox endpoint: ${path}`] });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (url.pathname === API_PATH) {
      if (req.method === 'POST') return interaction(req, res, expectsContinue);
      const errors = [`${req.method ?? ''} is not allowed; use POST`];
      return send(res, 405, { requestId: requestId(), errors }, { Allow: 'POST' });
    }
    if (url.pathname.startsWith('/_sandbox/')) return control(req, res, url.pathname, url.searchParams);
    return send(res, 404, { requestId: requestId(), errors: [`Not found: ${url.pathname}`] });
  }

  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
    route(req, res, expectsContinue).catch((error: unknown) => {
      // A bug in the sandbox must be visible to the test that hit it, not hang it.
      const message = error instanceof Error ? error.message : String(error);
      send(res, 500, { errors: [`sandbox internal error: ${message}`] });
    });
  };

  const server: Server = createServer({ keepAliveTimeout: 5000 }, (req, res) => handle(req, res, false));
  // Answer Expect: 100-continue ourselves, so a refused call (401, 413, 429) never uploads its body.
  server.on('checkContinue', (req, res) => handle(req, res, true));

  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (cause) {
    recorder?.destroy();
    await recordHandle?.close().catch(() => undefined);
    throw new BridgeError('CONFIG_INVALID', `sandbox cannot listen on ${host}:${port}`, { cause });
  }
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing.abort(new BridgeError('SHUTTING_DOWN', 'sandbox closing'));
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      await stopped;
      clearTimeout(grace);
      if (recorder !== undefined) {
        const stream = recorder;
        await new Promise<void>((resolve) => stream.end(() => resolve()));
      }
      await recordHandle?.close().catch(() => undefined);
    })();
    return closed;
  };

  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    stats,
    accepted: (offset = 0, limit = LIST_LIMIT_MAX) => events.list(offset, limit).map(view),
    event: (eventId) => {
      const event = events.get(eventId);
      return event === undefined ? undefined : view(event);
    },
    calls: (since = 0, limit = LIST_LIMIT_MAX) => callLog.since(since, limit),
    faults: faultView,
    setFaults: (patch) => {
      const parsed = faultPatchSchema.safeParse(patch);
      if (!parsed.success)
        throw new BridgeError('CONFIG_INVALID', `sandbox faults: ${describeIssues(parsed.error)}`);
      return setFaults(parsed.data);
    },
    reset,
    close,
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

type JsonParse =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Gong takes JSON only; a client that forgets the header should find out here, not in production. */
function jsonContentTypeError(contentType: string | undefined): string | null {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json'
    ? null
    : `Content-Type must be application/json, got ${contentType ?? 'none'}`;
}

function parseJson(bytes: Buffer): JsonParse {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, error: 'Malformed request: body is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: `Malformed JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function issueMessages(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

function describeIssues(error: z.ZodError): string {
  return issueMessages(error).join('; ');
}

function queryNumber(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0 ? Math.min(value, max) : fallback;
}
