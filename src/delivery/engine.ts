import { BridgeError, isBridgeError } from '../errors.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';
import { validateGongBody, verdictOf, type GongBodyValidator } from '../gong/validate.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import { createDeliveryEvents, type DeliveryEvents } from './events.ts';
import { GongCalls, type GongPoster } from './gong-calls.ts';
import type { RateLimiter } from './limiter-types.ts';
import { deliverRecord } from './record-delivery.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { SuspensionControl } from './suspension-control.ts';
import type { SuspensionKind, SuspensionReason } from './suspension.ts';

export type { GongPoster } from './gong-calls.ts';

/**
 * Takes one Gong body to a final outcome: validate, size-check, take a connection, wait for the
 * limiter, call, classify the answer with the outcome policy, and retry until it settles.
 * Transient trouble never settles a record: deliver() keeps trying until the caller aborts it
 * (shutdown, rebalance), and then rejects with SHUTTING_DOWN so the offset is not committed.
 *
 * States shared by every in-flight deliver():
 *  - a throttle pause after a 429, which no caller passes before Retry-After has elapsed;
 *  - a suspension (suspension.ts): a halt (401/403, a wrong endpoint, a proxy, the rejection
 *    breaker) or an outage (transient failures in a row). Callers park; one probe at a time goes
 *    out, with a waiting caller's body or the body that started it, until the cause is gone;
 *  - the transient run and the rejection breaker's counts, which decide when a suspension starts.
 *
 * Each call takes one of the pool's connections before its limiter grant and gives the grant back
 * (`CallSlot.release`) as soon as its answer or transport error is in, or when it drops the grant
 * unused, so the limiter's count matches what actually left for Gong.
 *
 * The parts, each in its file: the calls and the throttle pause (gong-calls.ts), one record's loop
 * and its outcomes (record-delivery.ts), when a suspension starts and ends (suspension-control.ts),
 * its probes (probes.ts), and the suspension itself with its parked callers (suspension.ts).
 */

/** `inferredRules`: the inferred rules the body broke (sent flagged, or withheld for). */
export type DeliveryOutcome =
  | {
      readonly kind: 'delivered';
      readonly status: number;
      readonly requestId?: string;
      readonly attempts: number;
      readonly inferredRules?: readonly InferredRuleName[];
    }
  | {
      readonly kind: 'duplicate';
      readonly status: 409;
      readonly requestId?: string;
      readonly attempts: number;
      readonly inferredRules?: readonly InferredRuleName[];
    }
  | {
      readonly kind: 'rejected';
      readonly status: number;
      readonly errors: readonly string[];
      readonly requestId?: string;
      readonly attempts: number;
      readonly inferredRules?: readonly InferredRuleName[];
    }
  /** Failed our validation or the size limit; no call was made. */
  | {
      readonly kind: 'invalid';
      readonly errors: readonly string[];
      readonly inferredRules?: readonly InferredRuleName[];
    };

export interface DeliverOptions {
  /**
   * Aborting rejects the pending deliver() with a SHUTTING_DOWN BridgeError as soon as it is
   * waiting (connection, limiter, backoff, 429 pause, halt or outage). A call already on the wire
   * is not cut off: its answer is worth having (a settled outcome is returned and can be
   * committed), while an abandoned call may have reached Gong and would cost a second call and a
   * 409 later. Calls end within GONG_HEADERS_TIMEOUT_MS + GONG_BODY_TIMEOUT_MS at worst.
   */
  readonly signal?: AbortSignal;
  /** For events and logs; defaults to the body's eventId. */
  readonly eventId?: string;
}

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
  /**
   * GONG_REJECTION_BREAKER: halt after this many different events in a row rejected with the same
   * errors; default 0 (off), the setting's default is 100.
   */
  readonly rejectionBreaker?: number;
  readonly events?: DeliveryEvents;
  /**
   * Default validateGongBody (the default settings); deliveryEngineSettings (src/wiring/) builds
   * the configured one. A body this validator already passed is not validated again (verdictOf).
   */
  readonly validate?: GongBodyValidator;
}

/** What stops delivery right now, for readiness, metrics and `/readyz`. */
export interface SuspensionView {
  readonly kind: SuspensionKind;
  readonly reason: SuspensionReason;
  /** Monotonic ms at which it began. */
  readonly since: number;
}

export interface DeliveryEngine {
  deliver(body: unknown, options?: DeliverOptions): Promise<DeliveryOutcome>;
  /** True while delivery is halted (credentials, endpoint, proxy, breaker); the runtime marks itself unready. */
  isHalted(): boolean;
  /** The halt or outage in force, if any. */
  suspension(): SuspensionView | undefined;
  readonly events: DeliveryEvents;
  /** Stops probing and rejects callers waiting on a halt; in-flight calls finish through their signals. */
  close(): void;
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
  const calls: GongCalls = new GongCalls({
    client,
    limiter,
    clock,
    sleep,
    policy,
    events,
    suspended: (): boolean => control.current !== undefined,
  });
  const control: SuspensionControl = new SuspensionControl({
    client,
    calls,
    clock,
    sleep,
    random,
    policy,
    events,
    probeIntervalMs,
    probeMaxIntervalMs,
    rejectionBreaker: options.rejectionBreaker ?? 0,
    closing: closing.signal,
  });
  const parts = { calls, control, clock, policy, random, events };

  return {
    events,
    isHalted: () => control.current?.kind === 'halt',
    suspension: () => {
      const current = control.current;
      return current === undefined
        ? undefined
        : { kind: current.kind, reason: current.reason, since: current.since };
    },
    async deliver(input, deliverOptions = {}) {
      const { signal } = deliverOptions;
      if (closing.signal.aborted) throw shuttingDown(closing.signal);
      // A body the same validator already passed (the transform's verdict, in `run`) is not walked again.
      const validation = verdictOf(input, validate) ?? validate(input);
      const eventId = deliverOptions.eventId ?? (validation.ok ? validation.body.eventId : undefined);
      const idField = eventId === undefined ? {} : { eventId };
      const { inferredRules } = validation;
      const flagged = inferredRules === undefined ? {} : { inferredRules };
      if (!validation.ok) {
        events.emit('invalid', { ...idField, errors: validation.errors, ...flagged });
        return { kind: 'invalid', errors: validation.errors, ...flagged };
      }
      const text = JSON.stringify(validation.body);
      // A UTF-16 unit is at most 3 bytes of UTF-8: most bodies need no count of their bytes.
      const bytes = text.length * 3 <= options.maxBodyBytes ? undefined : Buffer.byteLength(text);
      if (bytes !== undefined && bytes > options.maxBodyBytes) {
        const errors = [`body is ${bytes} bytes, more than GONG_MAX_BODY_BYTES (${options.maxBodyBytes})`];
        events.emit('invalid', { ...idField, errors, ...flagged });
        return { kind: 'invalid', errors, ...flagged };
      }
      if (inferredRules !== undefined) {
        events.emit('flagged', { ...idField, inferredRules, warnings: validation.warnings ?? [] });
      }
      try {
        const record = { body: text, bodyEventId: validation.body.eventId, eventId, flagged };
        return await deliverRecord(parts, record, signal);
      } catch (error) {
        if (signal?.aborted === true || closing.signal.aborted)
          throw shuttingDown(signal ?? closing.signal, error);
        throw error;
      }
    },
    close() {
      closing.abort();
      calls.close();
      control.close(shuttingDown(closing.signal));
    },
  };
}

function shuttingDown(signal: AbortSignal | undefined, cause?: unknown): BridgeError {
  if (isBridgeError(cause) && cause.code === 'SHUTTING_DOWN') return cause;
  return new BridgeError('SHUTTING_DOWN', 'delivery interrupted before the record settled', {
    cause: cause ?? signal?.reason,
  });
}
