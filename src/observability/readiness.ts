import type { LimiterSnapshot } from '../delivery/limiter-types.ts';

/**
 * What /readyz reports. Ready means this replica can make progress: it is in the consumer group
 * with partitions to work on, Gong accepts its credentials, the dead-letter topic (and the
 * receipts topic, when set) takes writes, the schema registry accepts its credentials, and it is
 * not shutting down. Quota
 * state is reported but does not make the replica unready: a spent quota is shared by every
 * replica, and taking them all out of the Service would only hide the cause.
 */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: {
    readonly consumerGroupJoined: boolean;
    readonly gongAuthOk: boolean;
    /** False while the dead-letter topic refuses every write (delivery halted). */
    readonly dlqWritable: boolean;
    /** False while the receipts topic refuses every write (delivery halted); true without one. */
    readonly receiptsWritable: boolean;
    /** False while the schema registry refuses the credentials (delivery halted). */
    readonly schemaRegistryAuthOk: boolean;
    readonly shuttingDown: boolean;
  };
  readonly quota: QuotaReport | null;
}

export interface QuotaReport {
  readonly mode: LimiterSnapshot['mode'];
  readonly dailyLimit: number;
  readonly dailyRemaining: number;
  readonly projectedExhaustionAt: string | null;
  readonly pausedUntil: string | null;
  readonly pauseReason: LimiterSnapshot['pauseReason'];
}

export interface ReadinessSources {
  /** Joined the group (assignment received); set by the Kafka runtime. */
  consumerGroupJoined?: () => boolean;
  /** True while the delivery engine is halted on an auth failure (engine.isHalted). */
  authHalted?: () => boolean;
  limiter?: () => LimiterSnapshot;
  /** The runtime's own view (it stops fetching before the process is told to). */
  shuttingDown?: () => boolean;
  /** Dependencies that halted the runtime (runtime.readiness().halts). */
  runtimeHalts?: () => readonly string[];
}

export interface Readiness {
  readonly sources: ReadinessSources;
  /** One-way: once shutdown starts the replica stays unready, so the Service drains it. */
  markShuttingDown(): void;
  /** For runtimes that push state instead of exposing a function. */
  setConsumerGroupJoined(joined: boolean): void;
  setAuthHalted(halted: boolean): void;
  report(): ReadinessReport;
}

export function createReadiness(sources: ReadinessSources = {}): Readiness {
  let shuttingDown = false;
  let joined = false;
  let halted = false;
  const state: ReadinessSources = { ...sources };
  return {
    sources: state,
    markShuttingDown() {
      shuttingDown = true;
    },
    setConsumerGroupJoined(value) {
      joined = value;
    },
    setAuthHalted(value) {
      halted = value;
    },
    report() {
      const consumerGroupJoined = state.consumerGroupJoined?.() ?? joined;
      const gongAuthOk = !(state.authHalted?.() ?? halted);
      const stopping = shuttingDown || state.shuttingDown?.() === true;
      const halts = state.runtimeHalts?.() ?? [];
      const dlqWritable = !halts.includes('dlq');
      const receiptsWritable = !halts.includes('receipts');
      const schemaRegistryAuthOk = !halts.includes('registry-auth');
      const snapshot = state.limiter?.();
      return {
        ready:
          consumerGroupJoined &&
          gongAuthOk &&
          dlqWritable &&
          receiptsWritable &&
          schemaRegistryAuthOk &&
          !stopping,
        checks: {
          consumerGroupJoined,
          gongAuthOk,
          dlqWritable,
          receiptsWritable,
          schemaRegistryAuthOk,
          shuttingDown: stopping,
        },
        quota: snapshot === undefined ? null : quotaReport(snapshot),
      };
    },
  };
}

function quotaReport(snapshot: LimiterSnapshot): QuotaReport {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    mode: snapshot.mode,
    dailyLimit: snapshot.dailyLimit,
    dailyRemaining: snapshot.dailyRemaining,
    projectedExhaustionAt: iso(snapshot.projectedExhaustionAt),
    pausedUntil: iso(snapshot.pausedUntil),
    pauseReason: snapshot.pauseReason,
  };
}
