import type { HaltReason } from './outcome-policy.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';

/**
 * The typed events the delivery engine emits. Metrics and logs subscribe to them; tests await
 * them. Payloads are plain data so a subscriber never reaches into the engine.
 */

/** Why an attempt did not settle the record; used as a metric label, so keep it low-cardinality. */
export type RetryReason = 'transient-status' | 'transport' | 'throttled' | 'halted';

/**
 * `inferredRules` on an event names the inferred rules (src/gong/rule-catalogue.ts) the body broke:
 * on delivered and rejected it is the prediction Gong's answer confirms or refutes.
 */
export interface DeliveryEventMap {
  /** Gong answered 2xx. */
  delivered: {
    eventId?: string;
    status: number;
    requestId?: string;
    attempts: number;
    elapsedMs: number;
    inferredRules?: readonly InferredRuleName[];
  };
  /** Gong answered 409: the event was accepted earlier (for example a reply that got lost). */
  duplicate: {
    eventId?: string;
    requestId?: string;
    attempts: number;
    elapsedMs: number;
    inferredRules?: readonly InferredRuleName[];
  };
  /** Gong refused the body; the record belongs in the dead-letter topic. */
  rejected: {
    eventId?: string;
    status: number;
    requestId?: string;
    errors: readonly string[];
    attempts: number;
    inferredRules?: readonly InferredRuleName[];
  };
  /** The body failed our own validation or size check; no call was made. */
  invalid: { eventId?: string; errors: readonly string[]; inferredRules?: readonly InferredRuleName[] };
  /**
   * The body breaks inferred rules set to send: it is sent all the same, once, with these
   * warnings. Emitted before its first call.
   */
  flagged: { eventId?: string; inferredRules: readonly InferredRuleName[]; warnings: readonly string[] };
  /** One attempt failed transiently; the record is retried after `delayMs`. */
  retry: {
    eventId?: string;
    attempt: number;
    reason: RetryReason;
    status?: number;
    code?: string;
    delayMs: number;
    /**
     * The answer is in no row of the outcome table (an unknown status or socket error code). It
     * is retried, since that loses nothing, but it is a gap in the table: log it loudly.
     */
    unexpected?: true;
  };
  /** Gong answered 429: every caller waits `retryAfterMs`. */
  throttled: { eventId?: string; retryAfterMs: number; requestId?: string };
  /**
   * Delivery halts for every caller until a probe succeeds: Gong refused our credentials (401/403),
   * the endpoint is misconfigured (404/405/421/3xx), a proxy or the connection refuses every call
   * (407/425/431), the token file is unreadable, or the rejection breaker tripped (`rejections`).
   * Emitted again when a probe's answer changes the reason. The name is historical: every halt
   * reason uses it, and `reason` says which.
   */
  'auth-failed': {
    status: number;
    reason: HaltReason;
    requestId?: string;
    errors?: readonly string[];
  };
  /** A probe made during a halt; `status` or `code` tells what Gong answered. */
  'auth-probe': { status?: number; code?: string; probes: number; nextProbeInMs?: number };
  /** A probe succeeded; every waiting caller resumes. */
  'auth-recovered': { haltedMs: number; probes: number };
  /**
   * Transient failures in a row (5xx, timeouts, refused or reset connections) with no answer in
   * between: Gong or the way to it is down. Until any call gets an answer again, records wait and
   * one probe at a time goes out instead of every record spending its own calls.
   */
  outage: { status?: number; code?: string; failures: number };
  /** An outage probe failed too; the next one follows after `nextProbeInMs`. */
  'outage-probe': { status?: number; code?: string; probes: number; nextProbeInMs: number };
  /** A call got an answer again (or turned out to be a halt): every waiting record resumes. */
  'outage-ended': { outageMs: number; probes: number; status?: number };
  /** A record has been retried for long enough that a human should look; retries continue. */
  'retry-alert': { eventId?: string; attempts: number; elapsedMs: number; lastReason: RetryReason };
  /** Every HTTP call to Gong, whatever the answer; `code` is set for transport failures. */
  call: { status?: number; code?: string; durationMs: number; requestId?: string; probe: boolean };
}

export type DeliveryEventName = keyof DeliveryEventMap;
export type DeliveryListener<K extends DeliveryEventName> = (payload: DeliveryEventMap[K]) => void;

export interface DeliveryEvents {
  /** Subscribes; returns the function that unsubscribes. */
  on<K extends DeliveryEventName>(name: K, listener: DeliveryListener<K>): () => void;
  emit<K extends DeliveryEventName>(name: K, payload: DeliveryEventMap[K]): void;
}

/**
 * A minimal synchronous emitter. A throwing listener is a bug in the subscriber; it must not
 * turn a delivered record into a failed one, so the error is handed to `onListenerError`, which
 * by default rethrows it outside the delivery path where it crashes loudly.
 */
export function createDeliveryEvents(
  onListenerError: (error: unknown, name: DeliveryEventName) => void = (error) => {
    queueMicrotask(() => {
      throw error;
    });
  },
): DeliveryEvents {
  const listeners = new Map<DeliveryEventName, Set<(payload: never) => void>>();
  return {
    on(name, listener) {
      let set = listeners.get(name);
      if (set === undefined) {
        set = new Set();
        listeners.set(name, set);
      }
      const entry = listener as (payload: never) => void;
      set.add(entry);
      return () => {
        set.delete(entry);
      };
    },
    emit(name, payload) {
      const set = listeners.get(name);
      if (set === undefined) return;
      for (const listener of set) {
        try {
          (listener as (payload: DeliveryEventMap[typeof name]) => void)(payload);
        } catch (error) {
          onListenerError(error, name);
        }
      }
    },
  };
}
