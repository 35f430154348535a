import { TypedEmitter } from '../shared/typed-emitter.ts';
import type { ErrorCode } from '../errors.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';
import type { HaltSourceName } from './halt-state.ts';
import type { ReceiptOutcome } from '../receipts/receipt.ts';
import type { ProduceFailureClass } from './producer-error-policy.ts';

/**
 * The typed events of the consumer runtime (`gong-bridge run`). Metrics, logs and tests subscribe
 * with `runtime.events.on(name, listener)`; payloads are plain data. The delivery engine's own
 * events (calls, retries, throttles, auth halts) stay on `engine.events`.
 */

export interface RecordRef {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export type PauseReason =
  'backpressure' | 'auth-halt' | 'quota-exhausted' | 'shutdown' | 'revoke' | `${HaltSourceName}-halt`;

/**
 * Why delivery stopped: Gong auth, the daily quota, the DLQ or the receipts topic refusing writes,
 * the registry refusing us.
 */
export type HaltReason = 'auth' | 'quota' | HaltSourceName;

/** A failed produce request of a batched producer (dead letters, receipts). */
export interface ProduceFailed {
  readonly error: string;
  readonly outcome: ProduceFailureClass;
  /** The broker error type or kafkajs error name that decided it. */
  readonly matched: string;
  readonly attempt: number;
  readonly messages: number;
  readonly retryInMs: number;
}

export interface RuntimeEventMap {
  /** A record was fetched and accepted for processing. */
  consumed: RecordRef & { readonly bytes: number };
  /** Gong accepted the event (2xx) or already had it (409: `duplicate`). */
  delivered: RecordRef & {
    readonly eventId: string;
    readonly outcome: 'delivered' | 'duplicate';
    readonly status: number;
    readonly attempts: number;
    /** From the record's Kafka timestamp to Gong's answer. */
    readonly latencyMs: number;
  };
  /** The record is in the dead-letter topic (acknowledged) with this reason. */
  'dead-lettered': RecordRef & {
    readonly reason: ErrorCode;
    readonly dlqTopic: string;
    readonly eventId?: string;
    readonly status?: number;
    /** The inferred rules the event broke (gong-bridge.inferred-rules). */
    readonly inferredRules?: readonly InferredRuleName[];
  };
  /**
   * The receipts topic acknowledged the record's receipt (KAFKA_RECEIPTS_TOPIC); only now may a
   * commit pass the record.
   */
  'receipt-written': RecordRef & { readonly outcome: ReceiptOutcome };
  /**
   * A produce to the receipts topic failed (producer-error-policy.ts), as `dlq-write-failed` for
   * dead letters: `retry` is sent again, `halt` probes while delivery is halted, `too-large` (a
   * topic whose max.message.bytes is below a receipt's size) is tried again. Never skipped.
   */
  'receipt-write-failed': ProduceFailed;
  /** The broker acknowledged a commit: every record of the partition below `offset` is settled. */
  committed: RecordRef;
  /** A commit failed; it is retried at the next interval, and nothing was lost. */
  'commit-failed': { readonly error: string; readonly partitions: number };
  /** Fetching stopped for every assigned partition, for `reason` (several reasons may overlap). */
  paused: { readonly reason: PauseReason; readonly partitions: number };
  /** The last pause reason cleared; fetching goes on. */
  resumed: { readonly reason: PauseReason; readonly pausedMs: number };
  /**
   * Delivery cannot proceed: Gong refused the credentials, the daily quota is spent, the
   * dead-letter or receipts topic refuses writes, or the schema registry refuses the credentials.
   */
  halted: { readonly reason: HaltReason; readonly until?: number; readonly error?: string };
  /** A halt ended. */
  unhalted: { readonly reason: HaltReason; readonly haltedMs: number };
  /** Readiness changed; see Runtime.readiness(). */
  'ready-state': Readiness;
  /**
   * A schema lookup failed transiently (REGISTRY_UNAVAILABLE, or SCHEMA_ID_NOT_FOUND_YET); the
   * record waits and retries, it is not dead-lettered.
   */
  'registry-unavailable': RecordRef & {
    readonly code: ErrorCode;
    readonly error: string;
    readonly retryInMs: number;
  };
  /**
   * A produce to the dead-letter topic failed (producer-error-policy.ts): `retry` is sent again,
   * `too-large` is split or replaced by a reference letter, `halt` probes every `retryInMs` while
   * delivery is halted. Never skipped.
   */
  'dlq-write-failed': ProduceFailed;
  /** The group is rebalancing (`revoking`), or this member got its partitions (`assigned`). */
  rebalance:
    | { readonly phase: 'revoking'; readonly inFlight: number; readonly dropped: number }
    | {
        readonly phase: 'revoked';
        readonly settled: number;
        readonly abandoned: number;
        readonly durationMs: number;
      }
    | { readonly phase: 'assigned'; readonly partitions: readonly { topic: string; partition: number }[] };
  /** An error that is a bug: the record is retried, never dead-lettered. Log it loudly. */
  'internal-error': RecordRef & { readonly error: string; readonly stack?: string };
  /** The consumer stopped for good (kafkajs crash without restart). */
  crashed: { readonly error: string };
}

export interface Readiness {
  readonly ready: boolean;
  readonly joined: boolean;
  readonly authOk: boolean;
  /** Dependencies that halted delivery (the DLQ or receipts topic refusing writes, the registry refusing us). */
  readonly halts: readonly HaltSourceName[];
  readonly shuttingDown: boolean;
}

export type RuntimeEventName = keyof RuntimeEventMap;

export class RuntimeEvents extends TypedEmitter<RuntimeEventMap> {}
