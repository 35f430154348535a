import type { ConnectionPermit, GongCallResult, GongClient } from '../gong/client.ts';
import { ConnectionPermits } from '../gong/connection-permits.ts';
import { tokenUnavailableCode } from '../gong/transport-codes.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import type { DeliveryEvents } from './events.ts';
import type { CallSlot, RateLimiter } from './limiter-types.ts';
import { classifyStatus, classifyTransport, type Classification } from './outcome-policy.ts';
import { throttleDelay, type RetryPolicy } from './retry-policy.ts';

/**
 * The engine's calls to Gong, one at a time per record: the throttle pause after a 429 that no
 * call passes, the cold start, a free connection, the limiter's grant, the request, and the
 * `call` event. What an answer means is for the record's loop (record-delivery.ts) and for the
 * suspensions (suspension-control.ts) to decide.
 */

export type GongPoster = Pick<
  GongClient,
  'acquireConnection' | 'postDigitalInteraction' | 'invalidateCredentials'
>;

export interface GongCallsOptions {
  readonly client: GongPoster;
  readonly limiter: RateLimiter;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly policy: RetryPolicy;
  readonly events: DeliveryEvents;
  /** A halt or an outage is in force: a record's own call drops its grant instead of going out. */
  readonly suspended: () => boolean;
}

export class GongCalls {
  readonly #client: GongPoster;
  readonly #limiter: RateLimiter;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #policy: RetryPolicy;
  readonly #events: DeliveryEvents;
  readonly #suspended: () => boolean;
  /** Monotonic time before which no call starts, after a 429. */
  #throttledUntil = 0;
  /** Gong has answered at least once; until then calls go one at a time (see `call`). */
  #warm = false;
  readonly #coldStart = new ConnectionPermits(1);

  constructor(options: GongCallsOptions) {
    this.#client = options.client;
    this.#limiter = options.limiter;
    this.#clock = options.clock;
    this.#sleep = options.sleep;
    this.#policy = options.policy;
    this.#events = options.events;
    this.#suspended = options.suspended;
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
  async call(
    body: string,
    signal: AbortSignal | undefined,
    probe: boolean,
  ): Promise<GongCallResult | undefined> {
    if (this.#throttledUntil > this.#clock.now()) await this.#waitOutThrottle(signal);
    const first = this.#warm ? undefined : await this.#coldStart.acquire(signal);
    let permit: ConnectionPermit | undefined;
    let slot: CallSlot | undefined;
    let result: GongCallResult;
    try {
      if (this.#warm) first?.release();
      permit = await this.#client.acquireConnection(signal);
      slot = await this.#limiter.acquire(signal);
      // Going ahead would be the very call Gong just told us not to make.
      if (this.#clock.now() < this.#throttledUntil || (!probe && this.#suspended())) return undefined;
      const granted = slot;
      let written = false;
      const countFromAnswer = !this.#warm;
      result = await this.#client.postDigitalInteraction(
        body,
        undefined,
        countFromAnswer ? () => (written = true) : granted.onWire,
      );
      if (written) granted.onWire();
      if (result.kind === 'response') this.#warm = true;
    } finally {
      slot?.release();
      permit?.release();
      first?.release();
    }
    this.#emitCall(result, probe);
    return result;
  }

  /** A 429: every call waits out Retry-After (bounded by the policy); returns the wait. */
  applyThrottle(result: GongCallResult, eventId?: string): number {
    const delayMs = throttleDelay(this.#policy, result.kind === 'response' ? result.retryAfterMs : undefined);
    this.#throttledUntil = Math.max(this.#throttledUntil, this.#clock.now() + delayMs);
    this.#limiter.onThrottled(delayMs);
    const requestId = result.kind === 'response' ? result.requestId : undefined;
    this.#events.emit('throttled', {
      ...(eventId === undefined ? {} : { eventId }),
      retryAfterMs: delayMs,
      ...(requestId === undefined ? {} : { requestId }),
    });
    return delayMs;
  }

  /** Callers waiting for the cold start's one call give up (shutdown). */
  close(): void {
    this.#coldStart.close();
  }

  async #waitOutThrottle(signal: AbortSignal | undefined): Promise<void> {
    for (let now = this.#clock.now(); now < this.#throttledUntil; now = this.#clock.now()) {
      await this.#sleep(this.#throttledUntil - now, signal);
    }
  }

  #emitCall(result: GongCallResult, probe: boolean): void {
    // An unreadable token file fails before any request leaves: not a call, and no quota used.
    if (result.kind === 'transport' && result.code === tokenUnavailableCode) return;
    this.#events.emit('call', {
      ...callFields(result),
      durationMs: result.durationMs,
      ...(result.kind === 'response' && result.requestId !== undefined
        ? { requestId: result.requestId }
        : {}),
      probe,
    });
  }
}

export function classify(result: GongCallResult): Classification {
  return result.kind === 'response' ? classifyStatus(result.status) : classifyTransport(result.code);
}

/** The status or the transport code of an answer, as events carry them. */
export function callFields(result: GongCallResult): { status?: number; code?: string } {
  return result.kind === 'response' ? { status: result.status } : { code: result.code };
}

/** An answer that settles the record it was sent for: a probe's caller takes it as its own. */
export function settles(result: GongCallResult): boolean {
  const { outcome } = classify(result);
  return outcome === 'delivered' || outcome === 'duplicate' || outcome === 'rejected';
}
