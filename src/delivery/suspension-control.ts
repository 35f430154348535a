import type { GongCallResult } from '../gong/client.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import type { DeliveryEvents } from './events.ts';
import { callFields, settles, type GongPoster } from './gong-calls.ts';
import type { Classification, HaltReason } from './outcome-policy.ts';
import { Prober, type ProbeOptions } from './probes.ts';
import { RejectionBreaker, rejectionKey } from './rejection-breaker.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { Suspension, type ParkedCaller } from './suspension.ts';

/**
 * When every record stops at once, and when it goes on: the engine-wide side of each answer.
 * Transient failures in a row start an outage; a 401/403, a wrong endpoint, a proxy or the
 * rejection breaker start a halt. Either one is a Suspension (suspension.ts) that records park
 * on while the probes (probes.ts) call until an answer proves the cause gone. A lone failure's
 * backoff is cut short here too, as soon as any call gets an answer.
 */

/** What the probes need (probes.ts), and the clock and the breaker's threshold. */
export interface SuspensionControlOptions extends ProbeOptions {
  readonly clock: Clock;
  /** Different events in a row rejected with the same errors that make a halt; 0 is off. */
  readonly rejectionBreaker: number;
}

export class SuspensionControl {
  readonly #client: Pick<GongPoster, 'invalidateCredentials'>;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #policy: RetryPolicy;
  readonly #events: DeliveryEvents;
  readonly #breaker: RejectionBreaker;
  readonly #prober: Prober;
  #current: Suspension | undefined;
  /** Transient failures in a row, across records, since the last answer. */
  #transientRun = 0;
  /** Records backing off after a lone failure: woken as soon as any call gets an answer. */
  readonly #backingOff = new Set<() => void>();

  constructor(options: SuspensionControlOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#sleep = options.sleep;
    this.#policy = options.policy;
    this.#events = options.events;
    this.#breaker = new RejectionBreaker(options.rejectionBreaker);
    this.#prober = new Prober(this, options);
  }

  /** The halt or outage in force, if any. */
  get current(): Suspension | undefined {
    return this.#current;
  }

  // --- A regular call's answer ------------------------------------------------------------------

  /** A regular call's answer, before its record acts on it: runs, outages, the breaker. */
  noteAnswer(classification: Classification, result: GongCallResult, body: string): void {
    if (classification.outcome === 'transient') {
      this.#transientRun += 1;
      if (this.#current === undefined && this.#transientRun >= this.#policy.outageAfterFailures)
        this.#enterOutage(result, body);
      return;
    }
    this.answered();
    if (classification.outcome === 'delivered' || classification.outcome === 'duplicate') this.noteAccepted();
    // Any answer but a halt proves Gong reachable again; a halt turns the outage into a halt.
    const current = this.#current;
    if (current?.kind === 'outage' && classification.outcome !== 'halt') this.endOutage(current, result);
    // An event accepted after all (sent before the breaker tripped) shows the stream is not all bad.
    const accepted = classification.outcome === 'delivered' || classification.outcome === 'duplicate';
    const halt = this.#current;
    if (accepted && halt?.kind === 'halt' && halt.reason === 'rejections') this.endHalt(halt);
  }

  /** Gong answered (anything): the run of transient failures is over, and lone backoffs end. */
  answered(): void {
    this.#transientRun = 0;
    for (const wake of [...this.#backingOff]) wake();
  }

  /** Gong accepted an event: the rejections before it were about those events. */
  noteAccepted(): void {
    this.#breaker.reset();
  }

  /**
   * A rejection the breaker holds rather than settles: one with the errors that tripped it, or the
   * one that trips it now. Held records wait with the halt and are never dead-lettered for it.
   */
  holdsRejection(result: GongCallResult, body: string, bodyEventId: string): boolean {
    if (result.kind !== 'response') return false;
    const key = rejectionKey(result.status, result.errors);
    const current = this.#current;
    if (current?.kind === 'halt') return current.reason === 'rejections' && current.rejectionKey === key;
    if (!this.#breaker.observe(key, bodyEventId)) return false;
    this.enterHalt('rejections', result, body, key);
    return true;
  }

  /** A lone failure's backoff, cut short as soon as any call gets an answer. */
  async backOff(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
    const answered = new AbortController();
    const wake = () => answered.abort();
    this.#backingOff.add(wake);
    try {
      await this.#sleep(
        delayMs,
        signal === undefined ? answered.signal : AbortSignal.any([signal, answered.signal]),
      );
    } catch (error) {
      if (!answered.signal.aborted || signal?.aborted === true) throw error;
    } finally {
      this.#backingOff.delete(wake);
    }
  }

  // --- Halts and outages ------------------------------------------------------------------------

  enterHalt(reason: HaltReason, result: GongCallResult, body: string, key?: string): void {
    // A caller that learns of the failure from an older, concurrent call joins the halt already
    // under way instead of announcing another one.
    this.#client.invalidateCredentials();
    if (this.#current?.kind === 'halt') return;
    const halt = new Suspension('halt', reason, this.#clock.now(), body, key);
    const outage = this.#current;
    if (outage !== undefined) {
      // The outage was a halt all along (Gong answers again, with 401): its callers wait on.
      outage.moveTo(halt);
      this.endOutage(outage, result);
    }
    this.#current = halt;
    this.emitHalt(halt, result);
    this.#startProbing(halt);
  }

  /** Announces a halt, or its new reason. */
  emitHalt(halt: Suspension, result: GongCallResult): void {
    this.#events.emit('auth-failed', {
      status: result.kind === 'response' ? result.status : 0,
      reason: halt.reason as HaltReason,
      ...(result.kind === 'response' && result.requestId !== undefined
        ? { requestId: result.requestId }
        : {}),
      ...(result.kind === 'response' && result.errors !== undefined ? { errors: result.errors } : {}),
    });
  }

  endHalt(halt: Suspension, probe?: ParkedCaller, result?: GongCallResult): void {
    if (this.#current === halt) this.#current = undefined;
    halt.end({ caller: probe, result });
    this.#events.emit('auth-recovered', { haltedMs: this.#clock.now() - halt.since, probes: halt.probes });
  }

  endOutage(outage: Suspension, result: GongCallResult, probe?: ParkedCaller): void {
    if (this.#current === outage) this.#current = undefined;
    outage.end({ caller: probe, result: settles(result) ? result : undefined });
    this.#events.emit('outage-ended', {
      outageMs: this.#clock.now() - outage.since,
      probes: outage.probes,
      ...(result.kind === 'response' ? { status: result.status } : {}),
    });
  }

  /** The engine closes: whoever waits on a suspension gets `error`. */
  close(error: unknown): void {
    const current = this.#current;
    this.#current = undefined;
    current?.fail(error);
  }

  #enterOutage(result: GongCallResult, body: string): void {
    const outage = new Suspension('outage', 'gong-unavailable', this.#clock.now(), body);
    this.#current = outage;
    this.#events.emit('outage', { ...callFields(result), failures: this.#transientRun });
    this.#startProbing(outage);
  }

  #startProbing(current: Suspension): void {
    void this.#prober.probe(current).catch((error: unknown) => {
      // Only a bug (or a limiter failing for good) gets here. End the suspension and hand the
      // error to the parked callers, so nobody waits on a probe loop that no longer runs.
      if (this.#current === current) this.#current = undefined;
      current.fail(error);
    });
  }
}
