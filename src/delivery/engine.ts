import type { Settings } from '../config/settings.ts';
import { BridgeError, isBridgeError } from '../errors.ts';
import type { ConnectionPermit, GongCallResult, GongClient } from '../gong/client.ts';
import { ConnectionPermits } from '../gong/connection-permits.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';
import {
  createGongBodyValidator,
  gongValidatorOptions,
  validateGongBody,
  verdictOf,
  type GongBodyValidator,
  type GongValidationSettings,
} from '../gong/validate.ts';
import { createDeliveryEvents, type DeliveryEvents, type RetryReason } from './events.ts';
import type { CallSlot, Clock, RateLimiter, Sleep } from './limiter-types.ts';
import {
  classifyStatus,
  classifyTransport,
  tokenUnavailableCode,
  type Classification,
  type HaltReason,
} from './outcome-policy.ts';
import { RejectionBreaker, rejectionKey } from './rejection-breaker.ts';
import {
  backoffDelay,
  defaultRetryPolicy,
  isRetryAlertDue,
  outageProbeDelay,
  retryPolicyFromConfig,
  throttleDelay,
  type RetryPolicy,
} from './retry-policy.ts';
import { Suspension, type ParkedCaller, type SuspensionKind, type SuspensionReason } from './suspension.ts';

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

export type GongPoster = Pick<
  GongClient,
  'acquireConnection' | 'postDigitalInteraction' | 'invalidateCredentials'
>;

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
   * Default validateGongBody (the default settings); deliveryEngineSettings builds the configured
   * one. A body this validator already passed is not validated again (verdictOf).
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
    | 'GONG_OUTAGE_PROBE_MAX_MS'
    | 'GONG_REJECTION_BREAKER'
  > &
    GongValidationSettings,
): Pick<
  DeliveryEngineOptions,
  | 'retry'
  | 'maxBodyBytes'
  | 'authProbeIntervalMs'
  | 'authProbeMaxIntervalMs'
  | 'rejectionBreaker'
  | 'validate'
> {
  return {
    retry: retryPolicyFromConfig(config),
    maxBodyBytes: config.GONG_MAX_BODY_BYTES,
    validate: createGongBodyValidator(gongValidatorOptions(config)),
    authProbeIntervalMs: config.GONG_AUTH_PROBE_INTERVAL_MS,
    authProbeMaxIntervalMs: config.GONG_AUTH_PROBE_MAX_MS,
    rejectionBreaker: config.GONG_REJECTION_BREAKER,
  };
}

/** An answer as the loop of one record sees it; `judged` answers were already acted on for everyone. */
interface Answer {
  readonly result: GongCallResult;
  readonly judged: boolean;
}

export function createDeliveryEngine(options: DeliveryEngineOptions): DeliveryEngine {
  const { client, limiter, clock, sleep } = options;
  const random = options.random ?? Math.random;
  const policy = options.retry ?? defaultRetryPolicy;
  const validate = options.validate ?? validateGongBody;
  const events = options.events ?? createDeliveryEvents();
  const probeIntervalMs = options.authProbeIntervalMs ?? 30_000;
  const probeMaxIntervalMs = Math.max(options.authProbeMaxIntervalMs ?? 300_000, probeIntervalMs);
  const breaker = new RejectionBreaker(options.rejectionBreaker ?? 0);
  const closing = new AbortController();

  /** Monotonic time before which no call starts, after a 429. */
  let throttledUntil = 0;
  let suspension: Suspension | undefined;
  /** Transient failures in a row, across records, since the last answer. */
  let transientRun = 0;
  /** Records backing off after a lone failure: woken as soon as any call gets an answer. */
  const backingOff = new Set<() => void>();
  /** Gong has answered at least once; until then calls go one at a time (see `call`). */
  let warm = false;
  const coldStart = new ConnectionPermits(1);

  // --- Calls ----------------------------------------------------------------------------------

  async function waitOutThrottle(signal: AbortSignal | undefined): Promise<void> {
    for (let now = clock.now(); now < throttledUntil; now = clock.now()) {
      await sleep(throttledUntil - now, signal);
    }
  }

  function applyThrottle(result: GongCallResult, eventId?: string): number {
    const delayMs = throttleDelay(policy, result.kind === 'response' ? result.retryAfterMs : undefined);
    throttledUntil = Math.max(throttledUntil, clock.now() + delayMs);
    limiter.onThrottled(delayMs);
    const requestId = result.kind === 'response' ? result.requestId : undefined;
    events.emit('throttled', {
      ...(eventId === undefined ? {} : { eventId }),
      retryAfterMs: delayMs,
      ...(requestId === undefined ? {} : { requestId }),
    });
    return delayMs;
  }

  /**
   * One call: a free connection first, then the limiter's grant, then the request, so the moment
   * the limiter counts is the moment the call leaves (as far as the wire allows). The grant goes
   * back as soon as the answer or the transport error is in, and unused when a 429 or a
   * suspension arrived while this call queued (`undefined`: nothing was sent).
   *
   * Until Gong has answered once, calls go one at a time and each counts from its answer instead
   * of from when it was written. A cold start's first calls meet cold connections and, at a server
   * that has just started, its slowest handling: sent as a burst, they reached a strict 3/s server
   * spread over 50-90 ms after they were written, while the next burst, a second later, arrived
   * tight, and two calls got 429 (`send` against a freshly started sandbox). The answer is the
   * latest the call can have arrived, and alone in flight its count cannot be replaced in the
   * limiter's window before the answer comes. It costs one round trip, once per process.
   */
  async function call(body: string, signal: AbortSignal | undefined, probe: boolean) {
    if (throttledUntil > clock.now()) await waitOutThrottle(signal);
    const first = warm ? undefined : await coldStart.acquire(signal);
    let permit: ConnectionPermit | undefined;
    let slot: CallSlot | undefined;
    let result: GongCallResult;
    try {
      if (warm) first?.release();
      permit = await client.acquireConnection(signal);
      slot = await limiter.acquire(signal);
      // Going ahead would be the very call Gong just told us not to make.
      if (clock.now() < throttledUntil || (!probe && suspension !== undefined)) return undefined;
      const granted = slot;
      let written = false;
      const countFromAnswer = !warm;
      result = await client.postDigitalInteraction(
        body,
        undefined,
        countFromAnswer ? () => (written = true) : granted.onWire,
      );
      if (written) granted.onWire();
      if (result.kind === 'response') warm = true;
    } finally {
      slot?.release();
      permit?.release();
      first?.release();
    }
    emitCall(result, probe);
    return result;
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

  // --- Suspensions ----------------------------------------------------------------------------

  function enterHalt(reason: HaltReason, result: GongCallResult, body: string, key?: string): void {
    // A caller that learns of the failure from an older, concurrent call joins the halt already
    // under way instead of announcing another one.
    client.invalidateCredentials();
    if (suspension?.kind === 'halt') return;
    const halt = new Suspension('halt', reason, clock.now(), body, key);
    const outage = suspension;
    if (outage !== undefined) {
      // The outage was a halt all along (Gong answers again, with 401): its callers wait on.
      outage.moveTo(halt);
      endOutage(outage, result);
    }
    suspension = halt;
    emitHalt(halt, result);
    startProbing(halt);
  }

  function emitHalt(halt: Suspension, result: GongCallResult): void {
    events.emit('auth-failed', {
      status: result.kind === 'response' ? result.status : 0,
      reason: halt.reason as HaltReason,
      ...(result.kind === 'response' && result.requestId !== undefined
        ? { requestId: result.requestId }
        : {}),
      ...(result.kind === 'response' && result.errors !== undefined ? { errors: result.errors } : {}),
    });
  }

  function enterOutage(result: GongCallResult, body: string): void {
    const outage = new Suspension('outage', 'gong-unavailable', clock.now(), body);
    suspension = outage;
    events.emit('outage', { ...callFields(result), failures: transientRun });
    startProbing(outage);
  }

  function endHalt(halt: Suspension, probe?: ParkedCaller, result?: GongCallResult): void {
    if (suspension === halt) suspension = undefined;
    halt.end({ caller: probe, result });
    events.emit('auth-recovered', { haltedMs: clock.now() - halt.since, probes: halt.probes });
  }

  function endOutage(outage: Suspension, result: GongCallResult, probe?: ParkedCaller): void {
    if (suspension === outage) suspension = undefined;
    outage.end({ caller: probe, result: settles(result) ? result : undefined });
    events.emit('outage-ended', {
      outageMs: clock.now() - outage.since,
      probes: outage.probes,
      ...(result.kind === 'response' ? { status: result.status } : {}),
    });
  }

  function startProbing(current: Suspension): void {
    void probeLoop(current).catch((error: unknown) => {
      // Only a bug (or a limiter failing for good) gets here. End the suspension and hand the
      // error to the parked callers, so nobody waits on a probe loop that no longer runs.
      if (suspension === current) suspension = undefined;
      current.fail(error);
    });
  }

  function firstProbeDelay(current: Suspension): number {
    return current.kind === 'halt'
      ? Math.min(probeIntervalMs * 2 ** current.failedProbes, probeMaxIntervalMs)
      : outageProbeDelay(policy, current.failedProbes, random);
  }

  /**
   * One probe at a time, spaced with backoff, until an answer proves the cause gone. The body is
   * the longest-waiting caller's, whose record the answer then settles, or the one that started
   * the suspension when nobody waits: a revoke may abort every parked caller, and a halted
   * runtime fetches nothing new, so a probe that needed a caller would never be sent.
   */
  async function probeLoop(current: Suspension): Promise<void> {
    let delayMs = firstProbeDelay(current);
    while (suspension === current && !closing.signal.aborted) {
      try {
        await sleep(delayMs, closing.signal);
      } catch {
        return;
      }
      if (suspension !== current) return;
      const caller = current.takeProbe();
      let result: GongCallResult | undefined;
      try {
        result = await call(caller?.body ?? current.body, closing.signal, true);
      } catch (error) {
        if (closing.signal.aborted) return;
        current.fail(error, caller);
        throw error;
      }
      if (result === undefined) {
        // A 429 arrived while the probe queued: wait it out, then probe at once. If the
        // suspension ended meanwhile, the caller calls on its own.
        if (suspension !== current) {
          caller?.resume(undefined);
          return;
        }
        current.requeue(caller);
        delayMs = 0;
        continue;
      }
      current.probes += 1;
      if (suspension !== current) {
        // Ended while the probe was out (another call got an answer): the answer is its caller's
        // to judge, like any other.
        caller?.resume({ result, judged: false });
        if (caller === undefined) judgeOrphanAnswer(result, current.body);
        return;
      }
      delayMs = judgeProbe(current, caller, result);
    }
  }

  /** Acts on a probe's answer; returns the wait before the next probe if the suspension goes on. */
  function judgeProbe(current: Suspension, caller: ParkedCaller | undefined, result: GongCallResult): number {
    const classification = classify(result);
    const { outcome } = classification;
    if (current.kind === 'outage') {
      if (outcome === 'transient') {
        current.failedProbes += 1;
        const next = outageProbeDelay(policy, current.failedProbes, random);
        current.requeue(caller);
        events.emit('outage-probe', { ...callFields(result), probes: current.probes, nextProbeInMs: next });
        return next;
      }
      transientRun = 0;
      wakeBackingOff();
      if (outcome === 'halt') {
        current.requeue(caller);
        enterHalt(classification.haltReason ?? 'credentials', result, caller?.body ?? current.body);
        return 0;
      }
      if (outcome === 'throttled') applyThrottle(result);
      if (outcome === 'delivered' || outcome === 'duplicate') breaker.reset();
      endOutage(current, result, caller);
      return 0;
    }
    const keepsRejecting =
      current.reason === 'rejections' &&
      outcome === 'rejected' &&
      result.kind === 'response' &&
      rejectionKey(result.status, result.errors) === current.rejectionKey;
    if (outcome === 'halt' || outcome === 'transient' || outcome === 'throttled' || keepsRejecting) {
      if (outcome === 'halt' || keepsRejecting) {
        client.invalidateCredentials();
        current.failedProbes += 1;
      }
      if (outcome === 'halt' && classification.haltReason !== current.reason) {
        // Now refused for another reason (a fixed token but a wrong URL): say so.
        current.reason = classification.haltReason ?? current.reason;
        emitHalt(current, result);
      }
      if (outcome === 'throttled') applyThrottle(result);
      current.requeue(caller);
      // Gong may check the rate or be down before it looks at the credentials, so a 429 or a 5xx
      // proves nothing; the wait grows only when the halt's own cause answers again.
      const next = firstProbeDelay(current);
      events.emit('auth-probe', { ...callFields(result), probes: current.probes, nextProbeInMs: next });
      return next;
    }
    events.emit('auth-probe', { ...callFields(result), probes: current.probes });
    if (outcome === 'delivered' || outcome === 'duplicate') breaker.reset();
    endHalt(current, caller, settles(result) ? result : undefined);
    return 0;
  }

  /** A probe without a caller came back after its suspension ended: what it says still counts. */
  function judgeOrphanAnswer(result: GongCallResult, body: string): void {
    const classification = classify(result);
    if (classification.outcome === 'halt')
      enterHalt(classification.haltReason ?? 'credentials', result, body);
    else if (classification.outcome === 'throttled') applyThrottle(result);
  }

  /** An answer that settles the record it was sent for: the probe's caller takes it as its own. */
  function settles(result: GongCallResult): boolean {
    const { outcome } = classify(result);
    return outcome === 'delivered' || outcome === 'duplicate' || outcome === 'rejected';
  }

  // --- The engine-wide side of one answer -----------------------------------------------------

  /** A regular call's answer, before its record acts on it: runs, outages, the breaker. */
  function noteAnswer(classification: Classification, result: GongCallResult, body: string): void {
    if (classification.outcome === 'transient') {
      transientRun += 1;
      if (suspension === undefined && transientRun >= policy.outageAfterFailures) enterOutage(result, body);
      return;
    }
    transientRun = 0;
    wakeBackingOff();
    if (classification.outcome === 'delivered' || classification.outcome === 'duplicate') breaker.reset();
    // Any answer but a halt proves Gong reachable again; a halt turns the outage into a halt.
    if (suspension?.kind === 'outage' && classification.outcome !== 'halt') endOutage(suspension, result);
    // An event accepted after all (sent before the breaker tripped) shows the stream is not all bad.
    const accepted = classification.outcome === 'delivered' || classification.outcome === 'duplicate';
    if (accepted && suspension?.kind === 'halt' && suspension.reason === 'rejections') endHalt(suspension);
  }

  function wakeBackingOff(): void {
    for (const wake of [...backingOff]) wake();
  }

  /** A lone failure's backoff, cut short as soon as any call gets an answer. */
  async function backOff(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
    const answered = new AbortController();
    const wake = () => answered.abort();
    backingOff.add(wake);
    try {
      await sleep(
        delayMs,
        signal === undefined ? answered.signal : AbortSignal.any([signal, answered.signal]),
      );
    } catch (error) {
      if (!answered.signal.aborted || signal?.aborted === true) throw error;
    } finally {
      backingOff.delete(wake);
    }
  }

  /**
   * A rejection the breaker holds rather than settles: one with the errors that tripped it, or the
   * one that trips it now. Held records wait with the halt and are never dead-lettered for it.
   */
  function holdsRejection(result: GongCallResult, body: string, bodyEventId: string): boolean {
    if (result.kind !== 'response') return false;
    const key = rejectionKey(result.status, result.errors);
    if (suspension?.kind === 'halt')
      return suspension.reason === 'rejections' && suspension.rejectionKey === key;
    if (!breaker.observe(key, bodyEventId)) return false;
    enterHalt('rejections', result, body, key);
    return true;
  }

  // --- One record -----------------------------------------------------------------------------

  async function deliverValid(
    body: string,
    bodyEventId: string,
    eventId: string | undefined,
    signal: AbortSignal | undefined,
    flagged: { inferredRules?: readonly InferredRuleName[] },
  ): Promise<DeliveryOutcome> {
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
      let answer: Answer | undefined;
      if (suspension !== undefined) {
        answer = await suspension.park(body, signal);
      } else {
        const result = await call(body, signal, false);
        answer = result === undefined ? undefined : { result, judged: false };
      }
      if (answer === undefined) continue;
      const { result } = answer;
      attempts += 1;
      const classification = classify(result);
      if (!answer.judged) noteAnswer(classification, result, body);
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
            ...flagged,
          });
          return { kind: 'delivered', status, ...extra, attempts, ...flagged } as const;
        }
        case 'duplicate': {
          const requestId = result.kind === 'response' ? result.requestId : undefined;
          const extra = requestId === undefined ? {} : { requestId };
          events.emit('duplicate', {
            ...idField,
            ...extra,
            attempts,
            elapsedMs: clock.now() - started,
            ...flagged,
          });
          return { kind: 'duplicate', status: 409, ...extra, attempts, ...flagged } as const;
        }
        case 'rejected': {
          if (!answer.judged && holdsRejection(result, body, bodyEventId)) {
            retried('halted', result, 0);
            continue;
          }
          const response = result as Extract<GongCallResult, { kind: 'response' }>;
          const errors = response.errors ?? [`HTTP ${response.status} without errors[]`];
          const extra = response.requestId === undefined ? {} : { requestId: response.requestId };
          events.emit('rejected', {
            ...idField,
            status: response.status,
            ...extra,
            errors,
            attempts,
            ...flagged,
          });
          return {
            kind: 'rejected',
            status: response.status,
            errors,
            ...extra,
            attempts,
            ...flagged,
          } as const;
        }
        case 'throttled': {
          const delayMs = applyThrottle(result, eventId);
          retried('throttled', result, delayMs);
          continue;
        }
        case 'halt':
          enterHalt(classification.haltReason ?? 'credentials', result, body);
          retried('halted', result, 0);
          continue;
        case 'transient': {
          transientFailures += 1;
          const reason = result.kind === 'response' ? 'transient-status' : 'transport';
          // In an outage the record waits for the probe instead of spending calls of its own.
          const delayMs = suspension === undefined ? backoffDelay(policy, transientFailures, random) : 0;
          retried(reason, result, delayMs, classification.unknown === true);
          if (delayMs > 0) await backOff(delayMs, signal);
          continue;
        }
      }
    }
  }

  return {
    events,
    isHalted: () => suspension?.kind === 'halt',
    suspension: () =>
      suspension === undefined
        ? undefined
        : { kind: suspension.kind, reason: suspension.reason, since: suspension.since },
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
        return await deliverValid(text, validation.body.eventId, eventId, signal, flagged);
      } catch (error) {
        if (signal?.aborted === true || closing.signal.aborted)
          throw shuttingDown(signal ?? closing.signal, error);
        throw error;
      }
    },
    close() {
      closing.abort();
      coldStart.close();
      const current = suspension;
      suspension = undefined;
      current?.fail(shuttingDown(closing.signal));
    },
  };
}

function shuttingDown(signal: AbortSignal | undefined, cause?: unknown): BridgeError {
  if (isBridgeError(cause) && cause.code === 'SHUTTING_DOWN') return cause;
  return new BridgeError('SHUTTING_DOWN', 'delivery interrupted before the record settled', {
    cause: cause ?? signal?.reason,
  });
}
