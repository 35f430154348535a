import { maskUrlCredentials } from '../config/redact.ts';
import type { Sample } from './prometheus-text.ts';

/**
 * What `gong-bridge status` shows, computed from the /metrics of one or more replicas, each read
 * twice (rates need two readings). Pure: the command does the HTTP and the clock.
 *
 * Across replicas: calls and dead letters add up; consumer lag is polled by every replica for the
 * whole group, so each partition takes the largest reading (never the sum); the daily quota is
 * the account's when the limiter shares it through Redis (every replica reports the same budget)
 * and the sum of the shares otherwise.
 */

export interface Scrape {
  /** The replica's /metrics URL as given (credentials are masked in the report). */
  readonly url: string;
  /** Wall-clock ms when the answer arrived. */
  readonly at: number;
  readonly samples?: readonly Sample[];
  /** Why there are no samples. */
  readonly error?: string;
}

export interface ReplicaStatus {
  readonly url: string;
  readonly up: boolean;
  readonly error?: string;
  readonly version: string | null;
  readonly ready: boolean | null;
  readonly inFlight: number | null;
  readonly pausedPartitions: number | null;
  readonly startedAt: string | null;
  readonly limiterMode: string | null;
  readonly callsPerSecond: number | null;
  readonly allowedPerSecond: number | null;
}

export interface Halt {
  readonly replica: string;
  readonly cause: string;
}

export interface StatusReport {
  readonly at: string;
  /** Seconds between the two readings the rates come from; null after one reading. */
  readonly windowSeconds: number | null;
  readonly replicasSeen: number;
  readonly replicas: readonly ReplicaStatus[];
  readonly calls: { readonly perSecond: number | null; readonly allowedPerSecond: number | null };
  readonly quota: {
    readonly remaining: number | null;
    readonly limit: number | null;
    /** ISO time the budget runs out at the current rate; null when it does not. */
    readonly exhaustsAt: string | null;
    /** true when shared through Redis (the account's budget), false when each replica has a share. */
    readonly shared: boolean | null;
  };
  readonly lag: {
    readonly total: number | null;
    readonly partitions: readonly { topic: string; partition: number; records: number }[];
    /** Age of the oldest record fetched but not settled, in seconds; null when not exported. */
    readonly oldestUnsettledSeconds: number | null;
  };
  readonly deadLetters: readonly { reason: string; total: number; perMinute: number | null }[];
  readonly halts: readonly Halt[];
}

/** Metric names the report reads; one place, so a renamed metric is one edit. */
export const statusMetrics = {
  calls: 'gong_bridge_gong_calls_total',
  rate: 'gong_bridge_limiter_rate_per_second',
  mode: 'gong_bridge_limiter_mode',
  quotaRemaining: 'gong_bridge_daily_quota_remaining',
  quotaLimit: 'gong_bridge_daily_quota_limit',
  quotaExhaustion: 'gong_bridge_daily_quota_projected_exhaustion_timestamp_seconds',
  lag: 'gong_bridge_consumer_lag_records',
  oldestUnsettled: 'gong_bridge_oldest_undelivered_age_seconds',
  deadLettered: 'gong_bridge_dead_lettered_total',
  ready: 'gong_bridge_ready',
  inFlight: 'gong_bridge_in_flight_records',
  paused: 'gong_bridge_paused_partitions',
  buildInfo: 'gong_bridge_build_info',
  processStart: 'process_start_time_seconds',
} as const;

/**
 * Conditions that stop or hold delivery, each with the cause an on-call engineer reads. A gauge
 * named gong_bridge_*halt* with a `cause` or `reason` label is listed too, so a new kind of halt
 * shows up here before this table learns its words.
 */
const haltRules: readonly { metric: string; when: (value: number) => boolean; cause: string }[] = [
  {
    metric: 'gong_bridge_gong_auth_failed',
    when: (value) => value > 0,
    cause: 'Gong refuses the credentials (401/403): delivery halted, probing until they work',
  },
  {
    metric: 'gong_bridge_dlq_unwritable',
    when: (value) => value > 0,
    cause:
      'the dead-letter topic refuses writes (ACL, missing or deleted topic): delivery halted, probing until a write succeeds',
  },
  {
    metric: 'gong_bridge_receipts_unwritable',
    when: (value) => value > 0,
    cause:
      'the receipts topic refuses writes (ACL, missing or deleted topic): delivery halted, probing until a write succeeds',
  },
  {
    metric: 'gong_bridge_schema_registry_auth_failed',
    when: (value) => value > 0,
    cause: 'the schema registry refuses the credentials (401/403): delivery halted, probing until they work',
  },
  {
    metric: statusMetrics.quotaRemaining,
    when: (value) => value <= 0,
    cause: 'daily Gong quota spent: calls wait until the window resets',
  },
  {
    metric: 'gong_bridge_limiter_fallback',
    when: (value) => value > 0,
    cause: 'Redis unreachable: this replica limits itself to its share of the quota',
  },
  {
    metric: statusMetrics.ready,
    when: (value) => value === 0,
    cause: 'not ready: not in the consumer group yet, halted, or shutting down (see /readyz)',
  },
];

/**
 * Readable causes for the `reason` label of gong_bridge_delivery_halted (added with issue 13's
 * halts); a reason missing here is shown as it is.
 */
const haltReasonText: Readonly<Record<string, string>> = {
  credentials: 'Gong refuses the credentials (401/403): delivery halted, probing until they work',
  'token-unavailable': 'the bearer token file cannot be read: delivery halted',
  endpoint: 'Gong says the endpoint is wrong (404/405/421/3xx): check GONG_BASE_URL; delivery halted',
  proxy: 'a proxy on the way to Gong demands authentication (407): delivery halted',
  connection: 'Gong or a proxy refuses requests on the connection (425): delivery halted',
  headers: 'Gong refuses the request headers (431): delivery halted',
  rejections: 'rejection breaker open: Gong rejected too many records in a row; delivery halted',
  'gong-unavailable': 'Gong is unavailable (an outage): one probe at a time until it answers',
};

type Lookup = (name: string, labels?: Readonly<Record<string, string>>) => Sample[];

function lookup(samples: readonly Sample[] | undefined): Lookup {
  return (name, labels = {}) =>
    (samples ?? []).filter(
      (sample) =>
        sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
}

const sum = (samples: readonly Sample[]) => samples.reduce((total, sample) => total + sample.value, 0);
const first = (samples: readonly Sample[]): number | null => samples[0]?.value ?? null;

/** The increase of a counter between readings; null across a restart (the counter went down). */
function increase(now: number, before: number | undefined): number | null {
  if (before === undefined || now < before) return null;
  return now - before;
}

export function summarizeStatus(current: readonly Scrape[], previous: readonly Scrape[] = []): StatusReport {
  const at = Math.max(0, ...current.map((scrape) => scrape.at));
  const replicas = current.map((scrape) =>
    replicaStatus(
      scrape,
      previous.find((p) => p.url === scrape.url),
    ),
  );
  const up = current.filter((scrape) => scrape.samples !== undefined);
  const windows = current
    .map((scrape) => {
      const before = previous.find((p) => p.url === scrape.url && p.samples !== undefined);
      return before === undefined || scrape.samples === undefined
        ? undefined
        : (scrape.at - before.at) / 1000;
    })
    .filter((window): window is number => window !== undefined && window > 0);
  const rates = replicas.map((replica) => replica.callsPerSecond).filter((rate) => rate !== null);
  return {
    at: new Date(at).toISOString(),
    windowSeconds: windows.length === 0 ? null : Math.max(...windows),
    replicasSeen: up.length,
    replicas,
    calls: {
      perSecond: rates.length === 0 ? null : rates.reduce((total, rate) => total + rate, 0),
      allowedPerSecond: accountShare(replicas, (replica) => replica.allowedPerSecond),
    },
    quota: quotaOf(up),
    lag: lagOf(up),
    deadLetters: deadLettersOf(current, previous),
    halts: haltsOf(up),
  };
}

function replicaStatus(scrape: Scrape, before: Scrape | undefined): ReplicaStatus {
  const url = maskUrlCredentials(scrape.url);
  const get = lookup(scrape.samples);
  const modes = get(statusMetrics.mode).filter((sample) => sample.value === 1);
  const started = first(get(statusMetrics.processStart));
  let callsPerSecond: number | null = null;
  if (scrape.samples !== undefined && before?.samples !== undefined && scrape.at > before.at) {
    const delta = increase(sum(get(statusMetrics.calls)), sum(lookup(before.samples)(statusMetrics.calls)));
    callsPerSecond = delta === null ? null : delta / ((scrape.at - before.at) / 1000);
  }
  const ready = first(get(statusMetrics.ready));
  return {
    url,
    up: scrape.samples !== undefined,
    ...(scrape.error === undefined ? {} : { error: maskUrlCredentials(scrape.error) }),
    version: get(statusMetrics.buildInfo)[0]?.labels.version ?? null,
    ready: ready === null ? null : ready === 1,
    inFlight: first(get(statusMetrics.inFlight)),
    pausedPartitions: first(get(statusMetrics.paused)),
    startedAt: started === null ? null : new Date(started * 1000).toISOString(),
    limiterMode: modes[0]?.labels.mode ?? null,
    callsPerSecond,
    allowedPerSecond: first(get(statusMetrics.rate)),
  };
}

/**
 * The account-wide figure from per-replica ones: replicas sharing through Redis each report the
 * account's figure (counted once); the others report their own share (added up).
 */
function accountShare(replicas: readonly ReplicaStatus[], read: (replica: ReplicaStatus) => number | null) {
  const shared = replicas.filter((replica) => replica.up && replica.limiterMode === 'redis');
  const own = replicas.filter((replica) => replica.up && replica.limiterMode !== 'redis');
  const sharedValues = shared.map(read).filter((value) => value !== null);
  const ownValues = own.map(read).filter((value) => value !== null);
  if (sharedValues.length === 0 && ownValues.length === 0) return null;
  return (sharedValues.length === 0 ? 0 : Math.max(...sharedValues)) + ownValues.reduce((a, b) => a + b, 0);
}

function quotaOf(up: readonly Scrape[]): StatusReport['quota'] {
  const shared: { remaining: number; limit: number }[] = [];
  const own: { remaining: number; limit: number }[] = [];
  const exhaustion: number[] = [];
  for (const scrape of up) {
    const get = lookup(scrape.samples);
    const remaining = first(get(statusMetrics.quotaRemaining));
    const limit = first(get(statusMetrics.quotaLimit));
    if (remaining === null || limit === null) continue;
    const mode = get(statusMetrics.mode).find((sample) => sample.value === 1)?.labels.mode;
    (mode === 'redis' ? shared : own).push({ remaining, limit });
    const when = first(get(statusMetrics.quotaExhaustion));
    if (when !== null && Number.isFinite(when)) exhaustion.push(when);
  }
  if (shared.length === 0 && own.length === 0)
    return { remaining: null, limit: null, exhaustsAt: null, shared: null };
  // Shared: every replica reads the same budget a moment apart; the lowest is the latest.
  const remaining =
    (shared.length === 0 ? 0 : Math.min(...shared.map((entry) => entry.remaining))) +
    own.reduce((total, entry) => total + entry.remaining, 0);
  const limit =
    (shared.length === 0 ? 0 : Math.max(...shared.map((entry) => entry.limit))) +
    own.reduce((total, entry) => total + entry.limit, 0);
  return {
    remaining,
    limit,
    exhaustsAt: exhaustion.length === 0 ? null : new Date(Math.min(...exhaustion) * 1000).toISOString(),
    shared: own.length === 0,
  };
}

function lagOf(up: readonly Scrape[]): StatusReport['lag'] {
  const partitions = new Map<string, { topic: string; partition: number; records: number }>();
  let oldest: number | null = null;
  for (const scrape of up) {
    const get = lookup(scrape.samples);
    for (const sample of get(statusMetrics.lag)) {
      const topic = sample.labels.topic ?? '';
      const partition = Number(sample.labels.partition ?? -1);
      const key = `${topic}\u0000${partition}`;
      const seen = partitions.get(key);
      if (seen === undefined || sample.value > seen.records)
        partitions.set(key, { topic, partition, records: sample.value });
    }
    const age = first(get(statusMetrics.oldestUnsettled));
    if (age !== null && (oldest === null || age > oldest)) oldest = age;
  }
  const list = [...partitions.values()].sort(
    (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
  );
  return {
    total: list.length === 0 ? null : list.reduce((total, entry) => total + entry.records, 0),
    partitions: list,
    oldestUnsettledSeconds: oldest,
  };
}

function deadLettersOf(current: readonly Scrape[], previous: readonly Scrape[]): StatusReport['deadLetters'] {
  const totals = new Map<string, { total: number; perMinute: number | null }>();
  for (const scrape of current) {
    if (scrape.samples === undefined) continue;
    const before = previous.find((p) => p.url === scrape.url && p.samples !== undefined);
    const minutes = before === undefined ? 0 : (scrape.at - before.at) / 60_000;
    for (const sample of lookup(scrape.samples)(statusMetrics.deadLettered)) {
      const reason = sample.labels.reason ?? 'unknown';
      const entry = totals.get(reason) ?? { total: 0, perMinute: 0 };
      entry.total += sample.value;
      const earlier = first(lookup(before?.samples)(statusMetrics.deadLettered, { reason }));
      const delta = increase(sample.value, earlier ?? undefined);
      entry.perMinute =
        entry.perMinute === null || delta === null || minutes <= 0 ? null : entry.perMinute + delta / minutes;
      totals.set(reason, entry);
    }
  }
  return [...totals.entries()]
    .filter(([, entry]) => entry.total > 0)
    .sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]))
    .map(([reason, entry]) => ({ reason, total: entry.total, perMinute: entry.perMinute }));
}

function haltsOf(up: readonly Scrape[]): Halt[] {
  const halts: Halt[] = [];
  const known = new Set(haltRules.map((rule) => rule.metric));
  for (const scrape of up) {
    const replica = maskUrlCredentials(scrape.url);
    const get = lookup(scrape.samples);
    const labelled: Halt[] = [];
    for (const sample of scrape.samples ?? []) {
      if (known.has(sample.name) || !/^gong_bridge_\w*halt/.test(sample.name) || sample.value <= 0) continue;
      const reason = sample.labels.reason ?? sample.labels.cause;
      const cause =
        reason === undefined
          ? sample.name
          : `${haltReasonText[reason] ?? reason} [${sample.name}{reason="${reason}"}]`;
      labelled.push({ replica, cause });
    }
    for (const rule of haltRules) {
      // The auth gauge repeats a labelled halt when the replica exports one.
      if (rule.metric === 'gong_bridge_gong_auth_failed' && labelled.length > 0) continue;
      const value = first(get(rule.metric));
      if (value !== null && rule.when(value)) halts.push({ replica, cause: rule.cause });
    }
    halts.push(...labelled);
  }
  return halts;
}
