import { open, type FileHandle } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BridgeError } from '../errors.ts';
import { contractValidator } from '../gong/validate.ts';
import { systemClock, systemSleep, type Clock, type Sleep } from '../shared/time.ts';
import type { SandboxCredentials } from './auth.ts';
import type { CallRecord } from './call-log.ts';
import { handleControl, LIST_LIMIT_MAX } from './control.ts';
import {
  applyFaultPatch,
  defaultFaults,
  faultPatchSchema,
  type FaultPatch,
  type FaultSettings,
} from './faults.ts';
import { describeIssues, send } from './http.ts';
import { handleInteraction, type InteractionContext } from './interaction.ts';
import { newRequestId, seededRandom, type Random } from '../shared/random.ts';
import {
  SandboxState,
  type AcceptedEventView,
  type FaultView,
  type SandboxLimits,
  type SandboxStats,
} from './state.ts';

export type { AcceptedEventView, FaultView, SandboxStats } from './state.ts';

/**
 * A local stand-in for Gong's `POST /v2/digital-interaction`, faithful where a client can tell the
 * difference: authentication, the rolling per-second and daily limits with Retry-After, the
 * contract's 400s, deduplication by eventId with 409, and injectable failures.
 *
 * The parts: the API endpoint and the order of its checks (interaction.ts), the /_sandbox/
 * endpoints (control.ts), and what the sandbox remembers between calls (state.ts). This file
 * checks the options, opens the --record file, routes requests, listens and closes.
 */

export const API_PATH = '/v2/digital-interaction';
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

/** The options, checked: every problem is a CONFIG_INVALID before anything is opened. */
function checkedOptions(options: SandboxOptions): {
  credentials: SandboxCredentials;
  limits: SandboxLimits;
  faults: FaultSettings;
  outageMs: number;
} {
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
  const limits: SandboxLimits = {
    rps: wholeNumber('rps', options.rps, 3),
    daily: wholeNumber('daily', options.daily, 10_000),
    maxBodyBytes: wholeNumber('maxBodyBytes', options.maxBodyBytes, 1_048_576),
    keepBodies: wholeNumber('keepBodies', options.keepBodies, 10_000),
    keepCalls: wholeNumber('keepCalls', options.keepCalls, 100_000),
    strict: options.strict === true,
  };
  const initialFaultsParsed = faultPatchSchema.safeParse({ ...options.faults });
  if (!initialFaultsParsed.success) {
    throw new BridgeError('CONFIG_INVALID', `sandbox faults: ${describeIssues(initialFaultsParsed.error)}`);
  }
  const faults = applyFaultPatch(defaultFaults, initialFaultsParsed.data);
  const outageMs = wholeNumber('outageMs', options.outageMs, 0);
  return { credentials, limits, faults, outageMs };
}

/** The --record file, appended to; a write error is reported in the stats, not thrown. */
interface Recorder {
  readonly stream: WriteStream | undefined;
  error(): string | null;
  /** Ends the stream, then closes the file. */
  close(): Promise<void>;
  /** The sandbox never started: drop the stream and close the file. */
  discard(): Promise<void>;
}

async function openRecorder(recordFile: string | undefined): Promise<Recorder> {
  let handle: FileHandle | undefined;
  let stream: WriteStream | undefined;
  let recordError: string | null = null;
  if (recordFile !== undefined) {
    try {
      handle = await open(recordFile, 'a');
    } catch (cause) {
      throw new BridgeError('CONFIG_INVALID', `cannot open record file ${recordFile}`, { cause });
    }
    stream = handle.createWriteStream();
    stream.on('error', (error) => {
      recordError = error.message;
    });
  }
  return {
    stream,
    error: () => recordError,
    async close() {
      if (stream !== undefined) {
        const ending = stream;
        await new Promise<void>((resolve) => ending.end(() => resolve()));
      }
      await handle?.close().catch(() => undefined);
    },
    async discard() {
      stream?.destroy();
      await handle?.close().catch(() => undefined);
    },
  };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const { credentials, limits, faults, outageMs } = checkedOptions(options);
  const clock = options.clock ?? systemClock;
  const recorder = await openRecorder(options.recordFile);
  const state = new SandboxState({ limits, faults, outageMs, clock, recordError: recorder.error });
  const closing = new AbortController();
  const requestId = options.requestId ?? (() => newRequestId());
  const interaction: InteractionContext = {
    state,
    limits,
    credentials,
    validate: contractValidator(limits.strict),
    clock,
    sleep: options.sleep ?? systemSleep,
    random: options.random ?? seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32)),
    requestId,
    recorder: recorder.stream,
    closing: closing.signal,
  };

  async function route(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (url.pathname === API_PATH) {
      if (req.method === 'POST') return handleInteraction(interaction, req, res, expectsContinue);
      const errors = [`${req.method ?? ''} is not allowed; use POST`];
      return send(res, 405, { requestId: requestId(), errors }, { Allow: 'POST' });
    }
    if (url.pathname.startsWith('/_sandbox/'))
      return handleControl(state, req, res, url.pathname, url.searchParams);
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
    await recorder.discard();
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
      await recorder.close();
    })();
    return closed;
  };

  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    stats: () => state.stats(),
    accepted: (offset = 0, limit = LIST_LIMIT_MAX) =>
      state.events.list(offset, limit).map((event) => state.view(event)),
    event: (eventId) => {
      const event = state.events.get(eventId);
      return event === undefined ? undefined : state.view(event);
    },
    calls: (since = 0, limit = LIST_LIMIT_MAX) => state.callLog.since(since, limit),
    faults: () => state.faultView(),
    setFaults: (patch) => {
      const parsed = faultPatchSchema.safeParse(patch);
      if (!parsed.success)
        throw new BridgeError('CONFIG_INVALID', `sandbox faults: ${describeIssues(parsed.error)}`);
      return state.setFaults(parsed.data);
    },
    reset: () => state.reset(),
    close,
  };
}
