import type { Settings } from '../config/settings.ts';
import { BridgeError, isBridgeError } from '../errors.ts';
import type { GongCallResult, GongClient } from '../gong/client.ts';
import { validateGongBody, type GongValidation } from '../gong/validate.ts';
import { createDeliveryEvents, type DeliveryEvents, type RetryReason } from './events.ts';
import type { Clock, RateLimiter, Sleep } from './limiter-types.ts';
import {
  classifyStatus,
  classifyTransport,
  tokenUnavailableCode,
  type Classification,
} from './outcome-policy.ts';
import {
  backoffDelay,
  defaultRetryPolicy,
  isRetryAlertDue,
  retryPolicyFromConfig,
  throttleDelay,
  type RetryPolicy,
} from './retry-policy.ts';

/**
 * Takes one Gong body to a final outcome: validate, size-check, wait for the limiter, call,
 * classify the answer with the outcome policy, and retry until it settles. Transient trouble
 * never settles a record: deliver() keeps trying until the caller aborts it (shutdown,
 * rebalance), and then rejects with SHUTTING_DOWN so the offset is not committed.
 *
 * Two states are shared by every in-flight deliver():
 *  - a throttle pause after a 429, which no caller passes before Retry-After has elapsed;
 *  - a halt after 401/403 (or a misconfigured endpoint), during which only one probe call at a
 *    time is made, using a waiting caller's own body, until the credentials work again.
 */

export type DeliveryOutcome =
  | {
      readonly kind: 'delivered';
      readonly status: number;
      readonly requestId?: string;
      readonly attempts: number;
    }
  | {
      readonly kind: 'duplicate';
      readonly status: 409;
      readonly requestId?: string;
      readonly attempts: number;
    }
  | {
      readonly kind: 'rejected';
      readonly status: number;
      readonly errors: readonly string[];
      readonly requestId?: string;
      readonly attempts: number;
    }
  /** Failed our validation or the size limit; no call was made. */
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

export interface DeliverOptions {
  /**
   * Aborting rejects the pending deliver() with a SHUTTING_DOWN BridgeError as soon as it is
   * waiting (limiter, backoff, 429 pause, auth halt). A call already on the wire is not cut off:
   * its answer is worth having (a settled outcome is returned and can be committed), while an
   * abandoned call may have reached Gong and would cost a second call and a 409 later. Calls end
   * within GONG_HEADERS_TIMEOUT_MS + GONG_BODY_TIMEOUT_MS at worst.
   */
  readonly signal?: AbortSignal;
  /** For events and logs; defaults to the body's eventId. */
  readonly eventId?: string;
}

export type GongPoster = Pick<GongClient, 'postDigitalInteraction' | 'invalidateCredentials'>;

export interface DeliveryEngineOptions {
  readonly client: GongPoster;
  readonly limiter: RateLimiter;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** Uniform in [0, 1), for backoff jitter; default Math.random. */
  readonly random?: () => number;
  readonly retry?: RetryPolicy;
  /** GONG_MAX_BODY_BYTES: larger serialized bodies are `invalid` without a call. */
  readonly maxBodyBytes: number;
  /** Wait before the first probe of a halt; default 30 s. */
  readonly authProbeIntervalMs?: number;
  /** The wait between probes doubles up to this; default 5 min. */
  readonly authProbeMaxIntervalMs?: number;
  readonly events?: DeliveryEvents;
  /** Default validateGongBody; injectable for tests. */
  readonly validate?: (input: unknown) => GongValidation;
}

export interface DeliveryEngine {
  deliver(body: unknown, options?: DeliverOptions): Promise<DeliveryOutcome>;
  /** True while delivery is halted on an auth failure; the runtime marks itself unready. */
  isHalted(): boolean;
  readonly events: DeliveryEvents;
  /** Stops probing and rejects callers waiting on a halt; in-flight calls finish through their signals. */
  close(): void;
}

interface HaltWaiter {
  readonly body: string;
  readonly signal: AbortSignal | undefined;
  resolve(result: GongCallResult | undefined): void;
  reject(error: unknown): void;
  cleanup(): void;
}

interface Halt {
  readonly since: number;
  readonly waiters: HaltWaiter[];
  probes: number;
}

/** The engine options that come from settings; the caller adds client, limiter, clock and sleep. */
export function deliveryEngineSettings(
  config: Pick<
    Settings,
    | 'GONG_MAX_BODY_BYTES'
    | 'GONG_RETRY_BASE_MS'
    | 'GONG_RETRY_MAX_MS'
    | 'GONG_RETRY_ALERT_ATTEMPTS'
    | 'GONG_RETRY_ALERT_AFTER_MS'
    | 'GONG_AUTH_PROBE_INTERVAL_MS'
    | 'GONG_AUTH_PROBE_MAX_MS'
  >,
): Pick<DeliveryEngineOptions, 'retry' | 'maxBodyBytes' | 'authProbeIntervalMs' | 'authProbeMaxIntervalMs'> {
  return {
    retry: retryPolicyFromConfig(config),
    maxBodyBytes: config.GONG_MAX_BODY_BYTES,
    authProbeIntervalMs: config.GONG_AUTH_PROBE_INTERVAL_MS,
    authProbeMaxIntervalMs: config.GONG_AUTH_PROBE_MAX_MS,
  };
}

export function createDeliveryEngine(options: DeliveryEngineOptions): DeliveryEngine {
  const { client, limiter, clock, sleep } = options;
  const random = options.random ?? Math.random;
  const policy = options.retry ?? defaultRetryPolicy;
  const validate = options.validate ?? validateGongBody;
  const events = options.events ?? createDeliveryEvents();
  const probeIntervalMs = options.authProbeIntervalMs ?? 30_000;
  const probeMaxIntervalMs = Math.max(options.authProbeMaxIntervalMs ?? 300_000, probeIntervalMs);
  const closing = new AbortController();

  /** Monotonic time before which no call starts, after a 429. */
  let throttledUntil = 0;
  let halt: Halt | undefined;

  async function waitOutThrottle(signal: AbortSignal | undefined): Promise<void> {
    for (let now = clock.now(); now < throttledUntil; now = clock.now()) {
      await sleep(throttledUntil - now, signal);
    }
  }

  function applyThrottle(delayMs: number): void {
    throttledUntil = Math.max(throttledUntil, clock.now() + delayMs);
    limiter.onThrottled(delayMs);
  }

  function enterHalt(classification: Classification, result: GongCallResult): void {
    // A caller that learns of the failure from an older, concurrent call joins the halt already
    // under way instead of announcing another one.
    client.invalidateCredentials();
    if (halt !== undefined) return;
    halt = { since: clock.now(), waiters: [], probes: 0 };
    events.emit('auth-failed', {
      status: result.kind === 'response' ? result.status : 0,
      reason: classification.haltReason ?? 'credentials',
      ...(result.kind === 'response' && result.requestId !== undefined
        ? { requestId: result.requestId }
        : {}),
      ...(result.kind === 'response' && result.errors !== undefined ? { errors: result.errors } : {}),
    });
    const current = halt;
    void probeLoop(current).catch((error: unknown) => {
      // Only a bug (or a limiter failing for good) gets here. End the halt and hand the error to
      // the parked callers, so nobody waits on a probe loop that no longer runs.
      if (halt === current) halt = undefined;
      for (const waiter of current.waiters.splice(0)) {
        waiter.cleanup();
        waiter.reject(error);
      }
    });
  }

  /**
   * One probe at a time, spaced with backoff, using the body of the longest-waiting caller, so
   * the probe is real work rather than a wasted call. Its answer goes back to that caller.
   */
  async function probeLoop(current: Halt): Promise<void> {
    let interval = probeIntervalMs;
    while (halt === current && !closing.signal.aborted) {
      try {
        await sleep(interval, closing.signal);
      } catch {
        return;
      }
      const waiter = current.waiters.find((candidate) => candidate.signal?.aborted !== true);
      if (waiter === undefined) continue;
      let result: GongCallResult;
      try {
        await waitOutThrottle(waiter.signal);
        const slot = await limiter.acquire(waiter.signal);
        try {
          result = await client.postDigitalInteraction(waiter.body, undefined, slot.onWire);
        } finally {
          // The outcome is known: a call that never left is handed back to the quota.
          slot.release();
        }
      } catch (error) {
        if (waiter.signal?.aborted === true) continue;
        throw error;
      }
      current.probes += 1;
      emitCall(result, true);
      const classification = classify(result);
      if (classification.outcome === 'halt' || classification.outcome === 'transient') {
        if (classification.outcome === 'halt') {
          client.invalidateCredentials();
          interval = Math.min(interval * 2, probeMaxIntervalMs);
        }
        events.emit('auth-probe', { ...callFields(result), probes: current.probes, nextProbeInMs: interval });
        continue;
      }
      if (classification.outcome === 'throttled') {
        // Gong may check the rate before the credentials, so a 429 proves nothing; wait it out.
        applyThrottle(throttleDelay(policy, result.kind === 'response' ? result.retryAfterMs : undefined));
        events.emit('auth-probe', { ...callFields(result), probes: current.probes, nextProbeInMs: interval });
        continue;
      }
      events.emit('auth-probe', { ...callFields(result), probes: current.probes });
      halt = undefined;
      events.emit('auth-recovered', { haltedMs: clock.now() - current.since, probes: current.probes });
      for (const other of current.waiters) {
        other.cleanup();
        other.resolve(other === waiter ? result : undefined);
      }
      current.waiters.length = 0;
      return;
    }
  }

  /**
   * Parks the caller while delivery is halted. Resolves with the probe answer if this caller's
   * body was the probe, or undefined when the halt is over and the caller should call itself.
   */
  function waitWhileHalted(current: Halt, body: string, signal: AbortSignal | undefined) {
    return new Promise<GongCallResult | undefined>((resolve, reject) => {
      const onAbort = () => {
        const index = current.waiters.indexOf(waiter);
        if (index >= 0) current.waiters.splice(index, 1);
        reject(shuttingDown(signal));
      };
      const waiter: HaltWaiter = {
        body,
        signal,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      if (signal?.aborted === true) {
        reject(shuttingDown(signal));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      current.waiters.push(waiter);
    });
  }

  function classify(result: GongCallResult): Classification {
    return result.kind === 'response' ? classifyStatus(result.status) : classifyTransport(result.code);
  }

  function callFields(result: GongCallResult): { status?: number; code?: string } {
    return result.kind === 'response' ? { status: result.status } : { code: result.code };
  }

  function emitCall(result: GongCallResult, probe: boolean): void {
    // An unreadable token file fails before any request leaves: not a call, and no quota used.
    if (result.kind === 'transport' && result.code === tokenUnavailableCode) return;
    events.emit('call', {
      ...callFields(result),
      durationMs: result.durationMs,
      ...(result.kind === 'response' && result.requestId !== undefined
        ? { requestId: result.requestId }
        : {}),
      probe,
    });
  }

  async function deliverValid(body: string, eventId: string | undefined, signal: AbortSignal | undefined) {
    const started = clock.now();
    const idField = eventId === undefined ? {} : { eventId };
    let attempts = 0;
    let transientFailures = 0;
    let alerted = false;

    const retried = (reason: RetryReason, result: GongCallResult, delayMs: number, unexpected = false) => {
      events.emit('retry', {
        ...idField,
        attempt: attempts,
        reason,
        ...callFields(result),
        delayMs,
        ...(unexpected ? { unexpected } : {}),
      });
      const elapsedMs = clock.now() - started;
      if (!alerted && isRetryAlertDue(policy, attempts, elapsedMs)) {
        alerted = true;
        events.emit('retry-alert', { ...idField, attempts, elapsedMs, lastReason: reason });
      }
    };

    for (;;) {
      signal?.throwIfAborted();
      let result: GongCallResult | undefined;
      if (halt !== undefined) {
        result = await waitWhileHalted(halt, body, signal);
      } else {
        if (clock.now() < throttledUntil) await waitOutThrottle(signal);
        const slot = await limiter.acquire(signal);
        // A 429 or a halt may have arrived while we queued for a token; going ahead would be the
        // very call Gong just told us not to make. The unused grant goes back to the limiter.
        if (halt !== undefined || clock.now() < throttledUntil) {
          slot.release();
          continue;
        }
        try {
          result = await client.postDigitalInteraction(body, undefined, slot.onWire);
        } finally {
          slot.release();
        }
        emitCall(result, false);
      }
      if (result === undefined) continue;
      attempts += 1;
      const classification = classify(result);
      switch (classification.outcome) {
        case 'delivered': {
          const status = result.kind === 'response' ? result.status : 200;
          const requestId = result.kind === 'response' ? result.requestId : undefined;
          const extra = requestId === undefined ? {} : { requestId };
          events.emit('delivered', {
            ...idField,
            status,
            ...extra,
            attempts,
            elapsedMs: clock.now() - started,
          });
          return { kind: 'delivered', status, ...extra, attempts } as const;
        }
        case 'duplicate': {
          const requestId = result.kind === 'response' ? result.requestId : undefined;
          const extra = requestId === undefined ? {} : { requestId };
          events.emit('duplicate', { ...idField, ...extra, attempts, elapsedMs: clock.now() - started });
          return { kind: 'duplicate', status: 409, ...extra, attempts } as const;
        }
        case 'rejected': {
          const response = result as Extract<GongCallResult, { kind: 'response' }>;
          const errors = response.errors ?? [`HTTP ${response.status} without errors[]`];
          const extra = response.requestId === undefined ? {} : { requestId: response.requestId };
          events.emit('rejected', { ...idField, status: response.status, ...extra, errors, attempts });
          return { kind: 'rejected', status: response.status, errors, ...extra, attempts } as const;
        }
        case 'throttled': {
          const delayMs = throttleDelay(policy, result.kind === 'response' ? result.retryAfterMs : undefined);
          applyThrottle(delayMs);
          const requestId = result.kind === 'response' ? result.requestId : undefined;
          events.emit('throttled', {
            ...idField,
            retryAfterMs: delayMs,
            ...(requestId === undefined ? {} : { requestId }),
          });
          retried('throttled', result, delayMs);
          continue;
        }
        case 'halt':
          enterHalt(classification, result);
          retried('halted', result, 0);
          continue;
        case 'transient': {
          transientFailures += 1;
          const delayMs = backoffDelay(policy, transientFailures, random);
          retried(
            result.kind === 'response' ? 'transient-status' : 'transport',
            result,
            delayMs,
            classification.unknown === true,
          );
          await sleep(delayMs, signal);
          continue;
        }
      }
    }
  }

  return {
    events,
    isHalted: () => halt !== undefined,
    async deliver(input, deliverOptions = {}) {
      const { signal } = deliverOptions;
      if (closing.signal.aborted) throw shuttingDown(closing.signal);
      const validation = validate(input);
      const eventId = deliverOptions.eventId ?? (validation.ok ? validation.body.eventId : undefined);
      const idField = eventId === undefined ? {} : { eventId };
      if (!validation.ok) {
        events.emit('invalid', { ...idField, errors: validation.errors });
        return { kind: 'invalid', errors: validation.errors };
      }
      const text = JSON.stringify(validation.body);
      const bytes = Buffer.byteLength(text);
      if (bytes > options.maxBodyBytes) {
        const errors = [`body is ${bytes} bytes, more than GONG_MAX_BODY_BYTES (${options.maxBodyBytes})`];
        events.emit('invalid', { ...idField, errors });
        return { kind: 'invalid', errors };
      }
      try {
        return await deliverValid(text, eventId, signal);
      } catch (error) {
        if (signal?.aborted === true || closing.signal.aborted)
          throw shuttingDown(signal ?? closing.signal, error);
        throw error;
      }
    },
    close() {
      closing.abort();
      const current = halt;
      halt = undefined;
      for (const waiter of current?.waiters ?? []) {
        waiter.cleanup();
        waiter.reject(shuttingDown(closing.signal));
      }
    },
  };
}

function shuttingDown(signal: AbortSignal | undefined, cause?: unknown): BridgeError {
  if (isBridgeError(cause) && cause.code === 'SHUTTING_DOWN') return cause;
  return new BridgeError('SHUTTING_DOWN', 'delivery interrupted before the record settled', {
    cause: cause ?? signal?.reason,
  });
}
