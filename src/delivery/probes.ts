import type { GongCallResult } from '../gong/client.ts';
import type { Sleep } from '../shared/time.ts';
import type { DeliveryEvents } from './events.ts';
import { callFields, classify, settles, type GongCalls, type GongPoster } from './gong-calls.ts';
import { rejectionKey } from './rejection-breaker.ts';
import { outageProbeDelay, type RetryPolicy } from './retry-policy.ts';
import type { SuspensionControl } from './suspension-control.ts';
import type { ParkedCaller, Suspension } from './suspension.ts';

/**
 * The probes of a halt or an outage: one call at a time, spaced with backoff, until an answer
 * proves the cause gone. The body is the longest-waiting caller's, whose record the answer then
 * settles, or the one that started the suspension when nobody waits: a revoke may abort every
 * parked caller, and a halted runtime fetches nothing new, so a probe that needed a caller would
 * never be sent.
 *
 * An outage ends on any answer but a transient failure (a halt turns it into a halt); a halt only
 * on an answer that shows its own cause gone.
 */

export interface ProbeOptions {
  readonly client: Pick<GongPoster, 'invalidateCredentials'>;
  readonly calls: GongCalls;
  readonly sleep: Sleep;
  readonly random: () => number;
  readonly policy: RetryPolicy;
  readonly events: DeliveryEvents;
  /** Wait before the first probe of a halt. */
  readonly probeIntervalMs: number;
  /** The wait between probes of a halt doubles up to this. */
  readonly probeMaxIntervalMs: number;
  /** Aborted when the engine closes: probing stops. */
  readonly closing: AbortSignal;
}

export class Prober {
  readonly #control: SuspensionControl;
  readonly #options: ProbeOptions;

  constructor(control: SuspensionControl, options: ProbeOptions) {
    this.#control = control;
    this.#options = options;
  }

  /** Probes `current` until it ends, the engine closes, or a call fails for good (rejects). */
  async probe(current: Suspension): Promise<void> {
    const { calls, sleep, closing } = this.#options;
    const control = this.#control;
    let delayMs = this.#nextDelay(current);
    while (control.current === current && !closing.aborted) {
      try {
        await sleep(delayMs, closing);
      } catch {
        return;
      }
      if (control.current !== current) return;
      const caller = current.takeProbe();
      let result: GongCallResult | undefined;
      try {
        result = await calls.call(caller?.body ?? current.body, closing, true);
      } catch (error) {
        if (closing.aborted) return;
        current.fail(error, caller);
        throw error;
      }
      if (result === undefined) {
        // A 429 arrived while the probe queued: wait it out, then probe at once. If the
        // suspension ended meanwhile, the caller calls on its own.
        if (control.current !== current) {
          caller?.resume(undefined);
          return;
        }
        current.requeue(caller);
        delayMs = 0;
        continue;
      }
      current.probes += 1;
      if (control.current !== current) {
        // Ended while the probe was out (another call got an answer): the answer is its caller's
        // to judge, like any other.
        caller?.resume({ result, judged: false });
        if (caller === undefined) this.#judgeOrphanAnswer(result, current.body);
        return;
      }
      delayMs =
        current.kind === 'outage'
          ? this.#judgeOutageProbe(current, caller, result)
          : this.#judgeHaltProbe(current, caller, result);
    }
  }

  /** The wait before the next probe, from the probes that failed so far. */
  #nextDelay(current: Suspension): number {
    const { probeIntervalMs, probeMaxIntervalMs, policy, random } = this.#options;
    return current.kind === 'halt'
      ? Math.min(probeIntervalMs * 2 ** current.failedProbes, probeMaxIntervalMs)
      : outageProbeDelay(policy, current.failedProbes, random);
  }

  /** Acts on an outage probe's answer; returns the wait before the next probe if it goes on. */
  #judgeOutageProbe(current: Suspension, caller: ParkedCaller | undefined, result: GongCallResult): number {
    const { calls, events, policy, random } = this.#options;
    const control = this.#control;
    const classification = classify(result);
    const { outcome } = classification;
    if (outcome === 'transient') {
      current.failedProbes += 1;
      const next = outageProbeDelay(policy, current.failedProbes, random);
      current.requeue(caller);
      events.emit('outage-probe', { ...callFields(result), probes: current.probes, nextProbeInMs: next });
      return next;
    }
    control.answered();
    if (outcome === 'halt') {
      current.requeue(caller);
      control.enterHalt(classification.haltReason ?? 'credentials', result, caller?.body ?? current.body);
      return 0;
    }
    if (outcome === 'throttled') calls.applyThrottle(result);
    if (outcome === 'delivered' || outcome === 'duplicate') control.noteAccepted();
    control.endOutage(current, result, caller);
    return 0;
  }

  /** Acts on a halt probe's answer; returns the wait before the next probe if it goes on. */
  #judgeHaltProbe(current: Suspension, caller: ParkedCaller | undefined, result: GongCallResult): number {
    const { calls, client, events } = this.#options;
    const control = this.#control;
    const classification = classify(result);
    const { outcome } = classification;
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
        control.emitHalt(current, result);
      }
      if (outcome === 'throttled') calls.applyThrottle(result);
      current.requeue(caller);
      // Gong may check the rate or be down before it looks at the credentials, so a 429 or a 5xx
      // proves nothing; the wait grows only when the halt's own cause answers again.
      const next = this.#nextDelay(current);
      events.emit('auth-probe', { ...callFields(result), probes: current.probes, nextProbeInMs: next });
      return next;
    }
    events.emit('auth-probe', { ...callFields(result), probes: current.probes });
    if (outcome === 'delivered' || outcome === 'duplicate') control.noteAccepted();
    control.endHalt(current, caller, settles(result) ? result : undefined);
    return 0;
  }

  /** A probe without a caller came back after its suspension ended: what it says still counts. */
  #judgeOrphanAnswer(result: GongCallResult, body: string): void {
    const classification = classify(result);
    if (classification.outcome === 'halt')
      this.#control.enterHalt(classification.haltReason ?? 'credentials', result, body);
    else if (classification.outcome === 'throttled') this.#options.calls.applyThrottle(result);
  }
}
