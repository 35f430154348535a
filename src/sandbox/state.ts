import type { Clock } from '../shared/time.ts';
import { CallLog, type CallStats } from './call-log.ts';
import { EventStore, type AcceptedEvent } from './event-store.ts';
import { applyFaultPatch, type FaultPatch, type FaultSettings } from './faults.ts';
import { SandboxQuota, type QuotaSnapshot } from './quota.ts';

/**
 * What the sandbox remembers between calls: the quota's use, the accepted events, the call log,
 * the faults in force and the outage under way. The API endpoint (interaction.ts) and the
 * control endpoints (control.ts) read and change it; `reset` forgets it all but the start-up faults.
 */

export interface FaultView extends FaultSettings {
  /** Wall-clock ISO time the current outage ends, or null. */
  readonly outageUntil: string | null;
  readonly outageRemainingMs: number;
}

export interface SandboxStats extends CallStats {
  readonly startedAt: string;
  /** Distinct events stored. */
  readonly accepted: number;
  /** 409 answers (retries of stored events). */
  readonly duplicates: number;
  readonly limits: QuotaSnapshot;
  readonly faults: FaultView;
  readonly maxBodyBytes: number;
  /** Inferred rules are refused too (--strict). */
  readonly strict: boolean;
  /** Set when --record could not be written. */
  readonly recordError: string | null;
}

export interface AcceptedEventView {
  readonly eventId: string;
  readonly acceptedAt: string;
  readonly conflicts: number;
  /** The body as parsed JSON, or null when it fell out of the kept window. */
  readonly body: unknown;
}

/** The sandbox's limits, checked at start-up. */
export interface SandboxLimits {
  /** Calls per rolling second; 0 disables the limit. */
  readonly rps: number;
  /** Calls per rolling 24 hours; 0 disables the limit. */
  readonly daily: number;
  readonly maxBodyBytes: number;
  /** Bodies kept for inspection (the most recent ones). */
  readonly keepBodies: number;
  /** Calls kept in the /_sandbox/calls log. */
  readonly keepCalls: number;
  /** Inferred rules are refused too. */
  readonly strict: boolean;
}

export interface SandboxStateOptions {
  readonly limits: SandboxLimits;
  readonly faults: FaultSettings;
  /** Start inside an outage lasting this long; 0 for none. */
  readonly outageMs: number;
  readonly clock: Clock;
  /** Why --record could not be written, if it could not. */
  readonly recordError: () => string | null;
}

export class SandboxState {
  readonly quota: SandboxQuota;
  readonly events: EventStore;
  readonly callLog: CallLog;
  faults: FaultSettings;
  /** Monotonic ms at which the current outage ends (in the past when there is none). */
  outageUntil: number;
  #startedAt: number;
  readonly #options: SandboxStateOptions;

  constructor(options: SandboxStateOptions) {
    const { limits, clock } = options;
    this.#options = options;
    this.quota = new SandboxQuota({ rps: limits.rps, daily: limits.daily });
    this.events = new EventStore(limits.keepBodies);
    this.callLog = new CallLog(limits.keepCalls);
    this.faults = options.faults;
    this.outageUntil = options.outageMs > 0 ? clock.now() + options.outageMs : Number.NEGATIVE_INFINITY;
    this.#startedAt = clock.wallNow();
  }

  faultView(): FaultView {
    const { clock } = this.#options;
    const remaining = Math.max(0, Math.ceil(this.outageUntil - clock.now()));
    return {
      ...this.faults,
      outageUntil: remaining > 0 ? new Date(clock.wallNow() + remaining).toISOString() : null,
      outageRemainingMs: remaining,
    };
  }

  setFaults(patch: FaultPatch): FaultView {
    this.faults = applyFaultPatch(this.faults, patch);
    if (patch.outageMs !== undefined) this.outageUntil = this.#options.clock.now() + patch.outageMs;
    return this.faultView();
  }

  stats(): SandboxStats {
    const { clock, limits, recordError } = this.#options;
    return {
      startedAt: new Date(this.#startedAt).toISOString(),
      ...this.callLog.stats(),
      accepted: this.events.size,
      duplicates: this.events.conflictTotal,
      limits: this.quota.snapshot(clock.now()),
      faults: this.faultView(),
      maxBodyBytes: limits.maxBodyBytes,
      strict: limits.strict,
      recordError: recordError(),
    };
  }

  view(event: AcceptedEvent): AcceptedEventView {
    return {
      eventId: event.eventId,
      acceptedAt: new Date(event.acceptedAt).toISOString(),
      conflicts: event.conflicts,
      body: event.body === null ? null : (JSON.parse(event.body) as unknown),
    };
  }

  reset(): void {
    this.quota.clear();
    this.events.clear();
    this.callLog.clear();
    this.faults = this.#options.faults;
    this.outageUntil = Number.NEGATIVE_INFINITY;
    this.#startedAt = this.#options.clock.wallNow();
  }
}
