import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { DeliveryEvents, RetryReason } from '../delivery/events.ts';
import { haltReasons } from '../delivery/outcome-policy.ts';
import type { SuspensionReason } from '../delivery/suspension.ts';
import type { Clock } from '../shared/time.ts';
import type { LimiterSnapshot, ObservableRateLimiter } from '../delivery/limiter-types.ts';
import { deadLetterCodes, type ErrorCode } from '../errors.ts';
import { inferredRuleNames, inferredRuleVerdicts, verdictOfAnswer } from '../gong/rule-catalogue.ts';
import type { RecordRef, RuntimeEvents } from '../kafka/events.ts';
import type { ProduceFailureClass } from '../kafka/producer-error-policy.ts';
import type { ReceiptOutcome } from '../receipts/receipt.ts';

/**
 * The metrics catalogue. Definitions are data so docs and tests can list every name, type, help
 * and label without a registry; `createMetrics` turns them into prom-client metrics on a registry
 * the caller owns (never the global one, so tests and several bridges in one process never mix).
 *
 * Labels are closed sets only: topic and partition (bounded by the topics configured), an HTTP
 * status, an outcome, a retry reason, an error code or an inferred rule (rule-catalogue.ts).
 * Never an eventId, an email or a URL: each distinct value is a new time series for as long as
 * the process lives.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
}

// Gong answers in tens of milliseconds when healthy; timeouts are 30 s by default.
const callBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
// At 3 calls/s a queue of 32 in-flight records waits up to ~10 s; a 429 or spent quota far longer.
const waitBuckets = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

export const metricCatalogue = {
  eventsConsumed: {
    name: 'gong_bridge_events_consumed_total',
    type: 'counter',
    help: 'Records fetched from Kafka, by topic.',
    labelNames: ['topic'],
  },
  deliveries: {
    name: 'gong_bridge_deliveries_total',
    type: 'counter',
    help: 'Records settled by the delivery engine, by outcome: delivered, duplicate (409), rejected (Gong 4xx), invalid (failed our validation).',
    labelNames: ['outcome'],
  },
  deadLettered: {
    name: 'gong_bridge_dead_lettered_total',
    type: 'counter',
    help: 'Records written to the dead-letter topic, by reason (error code).',
    labelNames: ['reason'],
  },
  inferredRuleFlagged: {
    name: 'gong_bridge_inferred_rule_flagged_total',
    type: 'counter',
    help: 'Events that broke an inferred rule (one Gong does not document), by rule and by what the bridge did: sent (flagged) or withheld (dead-lettered as GONG_INVALID, no call).',
    labelNames: ['rule', 'action'],
  },
  inferredRuleVerdicts: {
    name: 'gong_bridge_inferred_rule_verdicts_total',
    type: 'counter',
    help: "Gong's answers to events sent flagged, by inferred rule: confirmed (Gong refused the body, 400/422) or refuted (Gong accepted it). Evidence for GONG_INFERRED_RULES_REJECT.",
    labelNames: ['rule', 'verdict'],
  },
  gongCalls: {
    name: 'gong_bridge_gong_calls_total',
    type: 'counter',
    help: 'HTTP calls to Gong, by status code ("transport" when no answer came back).',
    labelNames: ['status'],
  },
  gongCallDuration: {
    name: 'gong_bridge_gong_call_duration_seconds',
    type: 'histogram',
    help: 'Duration of HTTP calls to Gong, from send to the end of the answer.',
    labelNames: [],
    buckets: callBuckets,
  },
  gongThrottled: {
    name: 'gong_bridge_gong_throttled_total',
    type: 'counter',
    help: 'Answers 429 received from Gong; the limiter should make this impossible.',
    labelNames: [],
  },
  retries: {
    name: 'gong_bridge_retries_total',
    type: 'counter',
    help: 'Failed attempts that will be retried, by reason.',
    labelNames: ['reason'],
  },
  retryAlerts: {
    name: 'gong_bridge_retry_alerts_total',
    type: 'counter',
    help: 'Records that crossed GONG_RETRY_ALERT_ATTEMPTS or GONG_RETRY_ALERT_AFTER_MS (retries continue).',
    labelNames: [],
  },
  oldestUndeliveredAge: {
    name: 'gong_bridge_oldest_undelivered_age_seconds',
    type: 'gauge',
    help: 'Age of the oldest record fetched but not yet settled (delivered, duplicate or dead-lettered); 0 when none.',
    labelNames: [],
  },
  limiterWait: {
    name: 'gong_bridge_limiter_wait_seconds',
    type: 'histogram',
    help: 'Time a call queued in the rate limiter before it could start.',
    labelNames: [],
    buckets: waitBuckets,
  },
  limiterTokens: {
    name: 'gong_bridge_limiter_tokens_available',
    type: 'gauge',
    help: 'Calls that may start right now without breaking the per-second limit.',
    labelNames: [],
  },
  limiterRate: {
    name: 'gong_bridge_limiter_rate_per_second',
    type: 'gauge',
    help: 'Calls per second this replica may start (its share of the account rate).',
    labelNames: [],
  },
  limiterRefunds: {
    name: 'gong_bridge_limiter_refunds_total',
    type: 'counter',
    help: 'Grants handed back to the per-second window and the daily budget because their call never went on the wire (refused, or dropped for a 429 or an auth halt).',
    labelNames: [],
  },
  limiterMargin: {
    name: 'gong_bridge_limiter_window_margin_seconds',
    type: 'gauge',
    help: 'Average margin the recent answered calls kept on their rolling second (their round trip above the fastest, at most GONG_RATE_MARGIN_MS): what jitter costs in rate.',
    labelNames: [],
  },
  limiterFallback: {
    name: 'gong_bridge_limiter_fallback',
    type: 'gauge',
    help: '1 while Redis is unreachable and the replica limits itself locally at its share.',
    labelNames: [],
  },
  limiterMode: {
    name: 'gong_bridge_limiter_mode',
    type: 'gauge',
    help: '1 for the mode the limiter is in: local (this replica alone, or its share of the account), redis (the account limits shared through Redis), local-fallback (Redis unreachable) or disabled; 0 for the others.',
    labelNames: ['mode'],
  },
  dailyQuotaRemaining: {
    name: 'gong_bridge_daily_quota_remaining',
    type: 'gauge',
    help: 'Calls left in the daily Gong budget as this replica sees it (cluster-wide with Redis).',
    labelNames: [],
  },
  dailyQuotaLimit: {
    name: 'gong_bridge_daily_quota_limit',
    type: 'gauge',
    help: 'The daily Gong budget this replica enforces.',
    labelNames: [],
  },
  quotaProjectedExhaustion: {
    name: 'gong_bridge_daily_quota_projected_exhaustion_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time at which the daily budget runs out at the current rate; +Inf when it does not.',
    labelNames: [],
  },
  quotaExhausted: {
    name: 'gong_bridge_daily_quota_exhausted_total',
    type: 'counter',
    help: 'Times the daily budget was spent and calls had to wait for the window to reset.',
    labelNames: [],
  },
  inFlight: {
    name: 'gong_bridge_in_flight_records',
    type: 'gauge',
    help: 'Records being delivered right now.',
    labelNames: [],
  },
  pausedPartitions: {
    name: 'gong_bridge_paused_partitions',
    type: 'gauge',
    help: 'Assigned partitions whose fetching is paused (back-pressure, auth halt, spent quota, shutdown).',
    labelNames: [],
  },
  consumerLag: {
    name: 'gong_bridge_consumer_lag_records',
    type: 'gauge',
    help: "High watermark minus the group's committed offset, polled per partition.",
    labelNames: ['topic', 'partition'],
  },
  lagPollErrors: {
    name: 'gong_bridge_consumer_lag_poll_errors_total',
    type: 'counter',
    help: 'Lag polls that failed (the lag gauges keep their last value).',
    labelNames: [],
  },
  commits: {
    name: 'gong_bridge_commits_total',
    type: 'counter',
    help: 'Partition offsets committed to Kafka (one per partition in each commit).',
    labelNames: [],
  },
  lastCommittedOffset: {
    name: 'gong_bridge_last_committed_offset',
    type: 'gauge',
    help: 'The offset this replica last committed per partition: the next one to read, as Kafka stores it.',
    labelNames: ['topic', 'partition'],
  },
  dlqProduceErrors: {
    name: 'gong_bridge_dlq_produce_errors_total',
    type: 'counter',
    help: 'Failed produce requests to the dead-letter topic, by outcome: retry (sent again), too-large (split, or a reference letter written instead), halt (the topic refuses every write; probed). No dead letter is ever dropped.',
    labelNames: ['outcome'],
  },
  dlqUnwritable: {
    name: 'gong_bridge_dlq_unwritable',
    type: 'gauge',
    help: '1 while delivery is halted because the dead-letter topic refuses every write (authorization, missing or deleted topic).',
    labelNames: [],
  },
  receiptsWritten: {
    name: 'gong_bridge_receipts_written_total',
    type: 'counter',
    help: 'Receipts acknowledged by the receipts topic (KAFKA_RECEIPTS_TOPIC), by outcome: delivered, duplicate (409), dead-lettered. After a crash a record may be receipted twice.',
    labelNames: ['outcome'],
  },
  receiptsPending: {
    name: 'gong_bridge_receipts_pending',
    type: 'gauge',
    help: 'Settled records waiting for their receipt to be acknowledged; no commit passes them until it is.',
    labelNames: [],
  },
  receiptProduceErrors: {
    name: 'gong_bridge_receipt_produce_errors_total',
    type: 'counter',
    help: 'Failed produce requests to the receipts topic, by outcome: retry (sent again), too-large (split, or tried again), halt (the topic refuses every write; probed). No receipt is ever dropped.',
    labelNames: ['outcome'],
  },
  receiptsUnwritable: {
    name: 'gong_bridge_receipts_unwritable',
    type: 'gauge',
    help: '1 while delivery is halted because the receipts topic refuses every write (authorization, missing or deleted topic).',
    labelNames: [],
  },
  schemaRegistryErrors: {
    name: 'gong_bridge_schema_registry_errors_total',
    type: 'counter',
    help: 'Schema lookups retried because the registry was unavailable or did not know the id yet.',
    labelNames: [],
  },
  schemaRegistryAuthFailed: {
    name: 'gong_bridge_schema_registry_auth_failed',
    type: 'gauge',
    help: '1 while delivery is halted because the schema registry refuses the credentials (401/403).',
    labelNames: [],
  },
  authFailed: {
    name: 'gong_bridge_gong_auth_failed',
    type: 'gauge',
    help: '1 while delivery is halted because Gong (or a proxy on the way) refuses every call: credentials, endpoint, proxy, connection, headers or an unreadable token file.',
    labelNames: [],
  },
  deliveryHalted: {
    name: 'gong_bridge_delivery_halted',
    type: 'gauge',
    help: '1 for the reason delivery is stopped right now: a halt (credentials, endpoint, proxy, connection, headers, token-unavailable, rejections: the rejection breaker) or a Gong outage (gong-unavailable: one probe at a time); 0 for every other reason.',
    labelNames: ['reason'],
  },
  internalErrors: {
    name: 'gong_bridge_internal_errors_total',
    type: 'counter',
    help: 'Errors that are bugs; the record is retried, never dead-lettered, and holds its partition meanwhile.',
    labelNames: [],
  },
  ready: {
    name: 'gong_bridge_ready',
    type: 'gauge',
    help: '1 when /readyz answers 200.',
    labelNames: [],
  },
  buildInfo: {
    name: 'gong_bridge_build_info',
    type: 'gauge',
    help: 'Always 1; the labels carry the gong-bridge and Node.js versions.',
    labelNames: ['version', 'node_version'],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof metricCatalogue;

type LabelOf<S extends MetricSpec> = S['labelNames'][number] & string;
type MetricFor<S extends MetricSpec> = S['type'] extends 'counter'
  ? Counter<LabelOf<S>>
  : S['type'] extends 'gauge'
    ? Gauge<LabelOf<S>>
    : Histogram<LabelOf<S>>;

export type BridgeMetricSet = { readonly [K in MetricKey]: MetricFor<(typeof metricCatalogue)[K]> };

/**
 * Gauges whose truth lives in another component are read when Prometheus scrapes, not pushed on
 * every change: a snapshot at scrape time is exact and costs nothing between scrapes. Unset
 * sources leave the gauge to the event bindings.
 */
export interface MetricSources {
  limiter?: () => LimiterSnapshot;
  authFailed?: () => boolean;
  /** Why delivery is stopped right now (engine.suspension), or undefined when it runs. */
  deliveryHalted?: () => string | undefined;
  inFlight?: () => number;
  pausedPartitions?: () => number;
  receiptsPending?: () => number;
  /** Seconds since the first attempt of the oldest unsettled record, or null when there is none. */
  oldestUndeliveredAgeSeconds?: () => number | null;
  ready?: () => boolean;
}

export interface BridgeMetrics extends BridgeMetricSet {
  readonly registry: Registry;
  /** Where scrape-time gauges read from; assign as components come up. */
  readonly sources: MetricSources;
}

export interface CreateMetricsOptions {
  readonly version: string;
  readonly nodeVersion?: string;
  /** process_* and nodejs_* metrics; default true. Off in tests that count series. */
  readonly defaultMetrics?: boolean;
}

// Label values known up front are exported at 0 from the start, so rate() and alerts that compare
// against them work before the first occurrence (an absent series makes `x == 0` silently empty).
export const deliveryOutcomes = ['delivered', 'duplicate', 'rejected', 'invalid'] as const;
export const retryReasons: readonly RetryReason[] = ['transient-status', 'transport', 'throttled', 'halted'];
export const deliveryHaltReasons: readonly SuspensionReason[] = [...haltReasons, 'gong-unavailable'];
export const dlqProduceOutcomes: readonly ProduceFailureClass[] = ['retry', 'too-large', 'halt'];
export const inferredRuleActions = ['sent', 'withheld'] as const;
export const receiptOutcomes: readonly ReceiptOutcome[] = ['delivered', 'duplicate', 'dead-lettered'];
export const deadLetterReasons: readonly ErrorCode[] = deadLetterCodes;

export const limiterModes: readonly LimiterSnapshot['mode'][] = [
  'local',
  'redis',
  'local-fallback',
  'disabled',
];

const legacyDefaultMetrics = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export function createMetrics(registry: Registry, options: CreateMetricsOptions): BridgeMetrics {
  const sources: MetricSources = {};
  const built: Record<string, Counter<string> | Gauge<string> | Histogram<string>> = {};
  for (const [key, spec] of Object.entries(metricCatalogue) as [MetricKey, MetricSpec][]) {
    const base = {
      name: spec.name,
      help: spec.help,
      labelNames: [...spec.labelNames],
      registers: [registry],
    };
    switch (spec.type) {
      case 'counter':
        built[key] = new Counter(base);
        break;
      case 'histogram':
        built[key] = new Histogram({ ...base, buckets: [...(spec.buckets ?? [])] });
        break;
      case 'gauge': {
        const collect = scrapeTimeCollector(key, sources);
        built[key] = new Gauge(collect === undefined ? base : { ...base, collect });
        break;
      }
    }
  }
  const metrics = { ...(built as unknown as BridgeMetricSet), registry, sources };

  metrics.buildInfo.set(
    { version: options.version, node_version: options.nodeVersion ?? process.version },
    1,
  );
  for (const outcome of deliveryOutcomes) metrics.deliveries.inc({ outcome }, 0);
  for (const reason of retryReasons) metrics.retries.inc({ reason }, 0);
  for (const reason of deadLetterReasons) metrics.deadLettered.inc({ reason }, 0);
  for (const reason of deliveryHaltReasons) metrics.deliveryHalted.set({ reason }, 0);
  metrics.internalErrors.inc(0);
  for (const outcome of dlqProduceOutcomes) metrics.dlqProduceErrors.inc({ outcome }, 0);
  metrics.dlqUnwritable.set(0);
  for (const outcome of receiptOutcomes) metrics.receiptsWritten.inc({ outcome }, 0);
  for (const outcome of dlqProduceOutcomes) metrics.receiptProduceErrors.inc({ outcome }, 0);
  metrics.receiptsUnwritable.set(0);
  metrics.schemaRegistryAuthFailed.set(0);
  for (const rule of inferredRuleNames) {
    for (const action of inferredRuleActions) metrics.inferredRuleFlagged.inc({ rule, action }, 0);
    for (const verdict of inferredRuleVerdicts) metrics.inferredRuleVerdicts.inc({ rule, verdict }, 0);
  }
  metrics.quotaProjectedExhaustion.set(Number.POSITIVE_INFINITY);
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client also exports these counts as gauges named *_total, which breaks Prometheus's
    // naming rules (promtool check metrics fails on them); the same values stay available under
    // nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of legacyDefaultMetrics) registry.removeSingleMetric(name);
  }
  return metrics;
}

function scrapeTimeCollector(key: MetricKey, sources: MetricSources): (() => void) | undefined {
  const limiterField = (read: (snapshot: LimiterSnapshot) => number) =>
    function (this: Gauge) {
      if (sources.limiter !== undefined) this.set(read(sources.limiter()));
    };
  switch (key) {
    case 'limiterTokens':
      return limiterField((s) => s.tokensAvailable);
    case 'limiterRate':
      return limiterField((s) => s.ratePerSecond);
    case 'limiterFallback':
      return limiterField((s) => (s.mode === 'local-fallback' ? 1 : 0));
    case 'limiterMode':
      return function (this: Gauge) {
        if (sources.limiter === undefined) return;
        const { mode } = sources.limiter();
        for (const each of limiterModes) this.set({ mode: each }, each === mode ? 1 : 0);
      };
    case 'limiterMargin':
      return limiterField((s) => (s.windowMarginMs ?? 0) / 1000);
    case 'dailyQuotaRemaining':
      return limiterField((s) => s.dailyRemaining);
    case 'dailyQuotaLimit':
      return limiterField((s) => s.dailyLimit);
    case 'quotaProjectedExhaustion':
      return limiterField((s) =>
        s.projectedExhaustionAt === null ? Number.POSITIVE_INFINITY : s.projectedExhaustionAt / 1000,
      );
    case 'authFailed':
      return function (this: Gauge) {
        if (sources.authFailed !== undefined) this.set(sources.authFailed() ? 1 : 0);
      };
    case 'deliveryHalted':
      return function (this: Gauge) {
        if (sources.deliveryHalted === undefined) return;
        const current = sources.deliveryHalted();
        for (const reason of deliveryHaltReasons) this.set({ reason }, reason === current ? 1 : 0);
      };
    case 'ready':
      return function (this: Gauge) {
        if (sources.ready !== undefined) this.set(sources.ready() ? 1 : 0);
      };
    case 'inFlight':
      return function (this: Gauge) {
        if (sources.inFlight !== undefined) this.set(sources.inFlight());
      };
    case 'receiptsPending':
      return function (this: Gauge) {
        if (sources.receiptsPending !== undefined) this.set(sources.receiptsPending());
      };
    case 'pausedPartitions':
      return function (this: Gauge) {
        if (sources.pausedPartitions !== undefined) this.set(sources.pausedPartitions());
      };
    case 'oldestUndeliveredAge':
      return function (this: Gauge) {
        if (sources.oldestUndeliveredAgeSeconds !== undefined) {
          this.set(sources.oldestUndeliveredAgeSeconds() ?? 0);
        }
      };
    default:
      return undefined;
  }
}

type Unsubscribe = () => void;

function all(unsubscribes: Unsubscribe[]): Unsubscribe {
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}

/** Counts what the delivery engine reports. Returns the function that unsubscribes. */
export function bindDeliveryMetrics(events: Pick<DeliveryEvents, 'on'>, metrics: BridgeMetrics): Unsubscribe {
  const verdict = (
    outcome: 'delivered' | 'rejected',
    event: { status: number; inferredRules?: readonly string[] },
  ) => {
    const found = verdictOfAnswer(outcome, event.status);
    if (found === undefined) return;
    for (const rule of event.inferredRules ?? []) metrics.inferredRuleVerdicts.inc({ rule, verdict: found });
  };
  return all([
    events.on('delivered', (event) => {
      metrics.deliveries.inc({ outcome: 'delivered' });
      verdict('delivered', event);
    }),
    events.on('duplicate', () => metrics.deliveries.inc({ outcome: 'duplicate' })),
    events.on('rejected', (event) => {
      metrics.deliveries.inc({ outcome: 'rejected' });
      verdict('rejected', event);
    }),
    events.on('flagged', (event) => {
      for (const rule of event.inferredRules) metrics.inferredRuleFlagged.inc({ rule, action: 'sent' });
    }),
    events.on('invalid', () => metrics.deliveries.inc({ outcome: 'invalid' })),
    events.on('retry', (event) => metrics.retries.inc({ reason: event.reason })),
    events.on('retry-alert', () => metrics.retryAlerts.inc()),
    events.on('throttled', () => metrics.gongThrottled.inc()),
    events.on('call', (event) => {
      metrics.gongCalls.inc({ status: event.status === undefined ? 'transport' : String(event.status) });
      metrics.gongCallDuration.observe(event.durationMs / 1000);
    }),
    // Without scrape-time sources (engine.isHalted, engine.suspension), the events keep the
    // gauges right.
    events.on('auth-failed', (event) => {
      if (metrics.sources.authFailed === undefined)
        metrics.authFailed.set(event.reason === 'rejections' ? 0 : 1);
      if (metrics.sources.deliveryHalted === undefined) markHalted(metrics, event.reason);
    }),
    events.on('auth-recovered', () => {
      if (metrics.sources.authFailed === undefined) metrics.authFailed.set(0);
      if (metrics.sources.deliveryHalted === undefined) markHalted(metrics, undefined);
    }),
    events.on('outage', () => {
      if (metrics.sources.deliveryHalted === undefined) markHalted(metrics, 'gong-unavailable');
    }),
    events.on('outage-ended', () => {
      if (metrics.sources.deliveryHalted === undefined) markHalted(metrics, undefined);
    }),
  ]);
}

function markHalted(metrics: BridgeMetrics, current: string | undefined): void {
  for (const reason of deliveryHaltReasons)
    metrics.deliveryHalted.set({ reason }, reason === current ? 1 : 0);
}

/**
 * Records queueing time and quota exhaustion from the limiter's events; tokens, quota and the
 * projection are read from its snapshot at scrape time.
 */
export function bindLimiterMetrics(
  limiter: Pick<ObservableRateLimiter, 'on' | 'snapshot'>,
  metrics: BridgeMetrics,
): Unsubscribe {
  metrics.sources.limiter ??= () => limiter.snapshot();
  return all([
    limiter.on('acquired', (event) => metrics.limiterWait.observe(event.waitedMs / 1000)),
    limiter.on('quota-exhausted', () => metrics.quotaExhausted.inc()),
    limiter.on('refunded', () => metrics.limiterRefunds.inc()),
  ]);
}

/**
 * Records fetched and not yet settled, per partition in fetch order, so the oldest is the first
 * entry of some partition. Entries leave when the record settles, when a commit covers them (the
 * group settled them, possibly on another member after a rebalance), or when the partition is no
 * longer assigned; so the map never holds more than the runtime buffers.
 */
class PendingRecords {
  /** Topic, then partition, then offset to when it was fetched: no key is built per record. */
  readonly #topics = new Map<string, Map<number, Map<string, number>>>();

  #offsets(ref: { topic: string; partition: number }): Map<string, number> | undefined {
    return this.#topics.get(ref.topic)?.get(ref.partition);
  }

  add(ref: RecordRef, at: number): void {
    let partitions = this.#topics.get(ref.topic);
    if (partitions === undefined) {
      partitions = new Map();
      this.#topics.set(ref.topic, partitions);
    }
    let offsets = partitions.get(ref.partition);
    if (offsets === undefined) {
      offsets = new Map();
      partitions.set(ref.partition, offsets);
    }
    // A record fetched again (after a rebalance) starts over: its earlier attempt was abandoned.
    offsets.delete(ref.offset);
    offsets.set(ref.offset, at);
  }

  settle(ref: RecordRef): void {
    this.#offsets(ref)?.delete(ref.offset);
  }

  /** Every offset below `committed` is settled for the whole group. */
  commit(ref: RecordRef): void {
    const offsets = this.#offsets(ref);
    if (offsets === undefined) return;
    // Commits come every COMMIT_MAX_PENDING records and walk the partition's unsettled ones:
    // compared as decimal text, not as a BigInt each.
    for (const offset of offsets.keys()) if (offsetBelow(offset, ref.offset)) offsets.delete(offset);
  }

  retain(assigned: readonly { topic: string; partition: number }[]): void {
    const keep = new Set(assigned.map(({ topic, partition }) => `${topic}\u0000${partition}`));
    for (const [topic, partitions] of this.#topics) {
      for (const partition of partitions.keys())
        if (!keep.has(`${topic}\u0000${partition}`)) partitions.delete(partition);
      if (partitions.size === 0) this.#topics.delete(topic);
    }
  }

  oldest(): number | null {
    let oldest: number | null = null;
    for (const partitions of this.#topics.values()) {
      for (const offsets of partitions.values()) {
        for (const at of offsets.values()) {
          if (oldest === null || at < oldest) oldest = at;
          break;
        }
      }
    }
    return oldest;
  }
}

/** `a < b` for Kafka offsets as kafkajs writes them: decimal, no sign, no leading zeros. */
export function offsetBelow(a: string, b: string): boolean {
  return a.length < b.length || (a.length === b.length && a < b);
}

export interface RuntimeMetricOptions {
  /** For the age of the oldest unsettled record. */
  readonly clock: Pick<Clock, 'now'>;
}

/**
 * Counts what the Kafka runtime reports: consumption, dead letters, commits, pauses, registry and
 * DLQ failures, readiness; and tracks unsettled records for the oldest-record age. Scrape-time
 * sources set on `metrics.sources` (in-flight, readiness) take precedence over the events.
 */
export function bindRuntimeMetrics(
  events: Pick<RuntimeEvents, 'on'>,
  metrics: BridgeMetrics,
  options: RuntimeMetricOptions,
): Unsubscribe {
  const pending = new PendingRecords();
  const { clock } = options;
  metrics.sources.oldestUndeliveredAgeSeconds ??= () => {
    const oldest = pending.oldest();
    return oldest === null ? null : Math.max(0, clock.now() - oldest) / 1000;
  };
  return all([
    events.on('consumed', (event) => {
      metrics.eventsConsumed.inc({ topic: event.topic });
      pending.add(event, clock.now());
    }),
    events.on('delivered', (event) => pending.settle(event)),
    events.on('dead-lettered', (event) => {
      metrics.deadLettered.inc({ reason: event.reason });
      // Withheld without a call; a GONG_REJECTED one was sent, and counted when it was flagged.
      if (event.reason === 'GONG_INVALID') {
        for (const rule of event.inferredRules ?? [])
          metrics.inferredRuleFlagged.inc({ rule, action: 'withheld' });
      }
      pending.settle(event);
    }),
    events.on('committed', (event) => {
      metrics.commits.inc();
      metrics.lastCommittedOffset.set(
        { topic: event.topic, partition: String(event.partition) },
        Number(event.offset),
      );
      pending.commit(event);
    }),
    events.on('rebalance', (event) => {
      // After a revoke the runtime forgets all its work: what was abandoned is fetched again,
      // by this member or another, and starts its age over.
      if (event.phase === 'revoked') pending.retain([]);
      if (event.phase === 'assigned') pending.retain(event.partitions);
    }),
    events.on('paused', (event) => {
      if (metrics.sources.pausedPartitions === undefined) metrics.pausedPartitions.set(event.partitions);
    }),
    events.on('resumed', () => {
      if (metrics.sources.pausedPartitions === undefined) metrics.pausedPartitions.set(0);
    }),
    events.on('registry-unavailable', () => metrics.schemaRegistryErrors.inc()),
    events.on('dlq-write-failed', (event) => metrics.dlqProduceErrors.inc({ outcome: event.outcome })),
    events.on('receipt-written', (event) => metrics.receiptsWritten.inc({ outcome: event.outcome })),
    events.on('receipt-write-failed', (event) =>
      metrics.receiptProduceErrors.inc({ outcome: event.outcome }),
    ),
    events.on('internal-error', () => metrics.internalErrors.inc()),
    events.on('halted', (event) => {
      if (event.reason === 'dlq') metrics.dlqUnwritable.set(1);
      if (event.reason === 'receipts') metrics.receiptsUnwritable.set(1);
      if (event.reason === 'registry-auth') metrics.schemaRegistryAuthFailed.set(1);
    }),
    events.on('unhalted', (event) => {
      if (event.reason === 'dlq') metrics.dlqUnwritable.set(0);
      if (event.reason === 'receipts') metrics.receiptsUnwritable.set(0);
      if (event.reason === 'registry-auth') metrics.schemaRegistryAuthFailed.set(0);
    }),
    events.on('ready-state', (state) => {
      if (metrics.sources.ready === undefined) metrics.ready.set(state.ready ? 1 : 0);
    }),
  ]);
}
