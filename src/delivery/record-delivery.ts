import type { GongCallResult } from '../gong/client.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';
import type { Clock } from '../shared/time.ts';
import type { DeliveryOutcome } from './engine.ts';
import type { DeliveryEvents, RetryReason } from './events.ts';
import { callFields, classify, type GongCalls } from './gong-calls.ts';
import { backoffDelay, isRetryAlertDue, type RetryPolicy } from './retry-policy.ts';
import type { SuspensionControl } from './suspension-control.ts';
import type { ParkedResult } from './suspension.ts';

/**
 * One valid record's loop: call (or park while a suspension is in force), classify the answer
 * with the outcome policy, and either settle the record (delivered, duplicate, rejected) or retry:
 * after the throttle pause, with the halt, or after a backoff. Transient trouble never settles a
 * record; the loop ends only with an outcome or when the caller's signal aborts it.
 */

/** The engine's parts a record's loop uses. */
export interface RecordDeliveryParts {
  readonly calls: GongCalls;
  readonly control: SuspensionControl;
  readonly clock: Clock;
  readonly policy: RetryPolicy;
  readonly random: () => number;
  readonly events: DeliveryEvents;
}

/** A record that passed validation, on its way to Gong. */
export interface ValidRecord {
  /** The serialized body. */
  readonly body: string;
  /** The body's eventId, which the rejection breaker counts. */
  readonly bodyEventId: string;
  /** For events and logs. */
  readonly eventId: string | undefined;
  /** The inferred rules the body broke, carried on its events and outcome. */
  readonly flagged: { readonly inferredRules?: readonly InferredRuleName[] };
}

export async function deliverRecord(
  parts: RecordDeliveryParts,
  record: ValidRecord,
  signal: AbortSignal | undefined,
): Promise<DeliveryOutcome> {
  const { calls, control, policy, random } = parts;
  const { body, eventId } = record;
  const attempts = new Attempts(parts, eventId);
  let transientFailures = 0;
  for (;;) {
    signal?.throwIfAborted();
    // Its own call, or, while a suspension is in force, what parking gets it: the probe's answer
    // to its body, or nothing (call again). Nothing too when no call went out (a 429 or a
    // suspension arrived while it queued).
    let answer: ParkedResult | undefined;
    const suspension = control.current;
    if (suspension !== undefined) {
      answer = await suspension.park(body, signal);
    } else {
      const result = await calls.call(body, signal, false);
      answer = result === undefined ? undefined : { result, judged: false };
    }
    if (answer === undefined) continue;
    const { result } = answer;
    attempts.count += 1;
    const classification = classify(result);
    if (!answer.judged) control.noteAnswer(classification, result, body);
    switch (classification.outcome) {
      case 'delivered':
      case 'duplicate':
        return settleAccepted(parts, record, classification.outcome, result, attempts);
      case 'rejected': {
        if (!answer.judged && control.holdsRejection(result, body, record.bodyEventId)) {
          attempts.retried('halted', result, 0);
          continue;
        }
        return settleRejected(parts, record, result, attempts);
      }
      case 'throttled': {
        const delayMs = calls.applyThrottle(result, eventId);
        attempts.retried('throttled', result, delayMs);
        continue;
      }
      case 'halt':
        control.enterHalt(classification.haltReason ?? 'credentials', result, body);
        attempts.retried('halted', result, 0);
        continue;
      case 'transient': {
        transientFailures += 1;
        const reason = result.kind === 'response' ? 'transient-status' : 'transport';
        // In an outage the record waits for the probe instead of spending calls of its own.
        const delayMs = control.current === undefined ? backoffDelay(policy, transientFailures, random) : 0;
        attempts.retried(reason, result, delayMs, classification.unknown === true);
        if (delayMs > 0) await control.backOff(delayMs, signal);
        continue;
      }
    }
  }
}

/** The record's attempts so far, its retry events, and its one retry alert. */
class Attempts {
  count = 0;
  readonly #parts: RecordDeliveryParts;
  readonly #idField: { eventId?: string };
  readonly started: number;
  #alerted = false;

  constructor(parts: RecordDeliveryParts, eventId: string | undefined) {
    this.#parts = parts;
    this.started = parts.clock.now();
    this.#idField = eventId === undefined ? {} : { eventId };
  }

  get idField(): { eventId?: string } {
    return this.#idField;
  }

  retried(reason: RetryReason, result: GongCallResult, delayMs: number, unexpected = false): void {
    const { events, clock, policy } = this.#parts;
    events.emit('retry', {
      ...this.#idField,
      attempt: this.count,
      reason,
      ...callFields(result),
      delayMs,
      ...(unexpected ? { unexpected } : {}),
    });
    const elapsedMs = clock.now() - this.started;
    if (!this.#alerted && isRetryAlertDue(policy, this.count, elapsedMs)) {
      this.#alerted = true;
      events.emit('retry-alert', { ...this.#idField, attempts: this.count, elapsedMs, lastReason: reason });
    }
  }
}

/** Gong took the event: a 2xx, or a 409 for an event it already had. */
function settleAccepted(
  parts: RecordDeliveryParts,
  record: ValidRecord,
  outcome: 'delivered' | 'duplicate',
  result: GongCallResult,
  attempts: Attempts,
): DeliveryOutcome {
  const { events, clock } = parts;
  const { flagged } = record;
  const idField = attempts.idField;
  const requestId = result.kind === 'response' ? result.requestId : undefined;
  const extra = requestId === undefined ? {} : { requestId };
  const elapsedMs = () => clock.now() - attempts.started;
  if (outcome === 'duplicate') {
    events.emit('duplicate', {
      ...idField,
      ...extra,
      attempts: attempts.count,
      elapsedMs: elapsedMs(),
      ...flagged,
    });
    return { kind: 'duplicate', status: 409, ...extra, attempts: attempts.count, ...flagged } as const;
  }
  const status = result.kind === 'response' ? result.status : 200;
  events.emit('delivered', {
    ...idField,
    status,
    ...extra,
    attempts: attempts.count,
    elapsedMs: elapsedMs(),
    ...flagged,
  });
  return { kind: 'delivered', status, ...extra, attempts: attempts.count, ...flagged } as const;
}

/** Gong refused the body: the record is settled with Gong's errors (and dead-lettered upstream). */
function settleRejected(
  parts: RecordDeliveryParts,
  record: ValidRecord,
  result: GongCallResult,
  attempts: Attempts,
): DeliveryOutcome {
  const { flagged } = record;
  const response = result as Extract<GongCallResult, { kind: 'response' }>;
  const errors = response.errors ?? [`HTTP ${response.status} without errors[]`];
  const extra = response.requestId === undefined ? {} : { requestId: response.requestId };
  parts.events.emit('rejected', {
    ...attempts.idField,
    status: response.status,
    ...extra,
    errors,
    attempts: attempts.count,
    ...flagged,
  });
  return {
    kind: 'rejected',
    status: response.status,
    errors,
    ...extra,
    attempts: attempts.count,
    ...flagged,
  } as const;
}
