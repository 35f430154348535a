import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createDeliveryEvents } from '../../src/delivery/events.ts';
import type { LimiterSnapshot } from '../../src/delivery/limiter-types.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { RuntimeEvents } from '../../src/kafka/events.ts';
import { partitionLag, startLagPoller, type LagAdmin } from '../../src/observability/lag-poller.ts';
import {
  bindDeliveryMetrics,
  bindLimiterMetrics,
  bindRuntimeMetrics,
  createMetrics,
  metricCatalogue,
  offsetBelow,
} from '../../src/observability/metrics.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

function fresh() {
  const registry = new Registry();
  return createMetrics(registry, { version: '9.9.9', nodeVersion: 'v24.0.0', defaultMetrics: false });
}

/** The value of one series as Prometheus would scrape it, read through the registry. */
async function value(metrics: ReturnType<typeof fresh>, name: string, labels: Record<string, string> = {}) {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const match = data.values.find(
    (entry) =>
      Object.entries(labels).every(([key, want]) => String(entry.labels[key]) === want) &&
      (entry as { metricName?: string }).metricName === undefined,
  );
  return match?.value;
}

describe('metric catalogue', () => {
  it('names every metric gong_bridge_* with a base unit and no high-cardinality labels', () => {
    for (const spec of Object.values(metricCatalogue)) {
      expect(spec.name).toMatch(/^gong_bridge_[a-z_]+$/);
      if (spec.type === 'counter') expect(spec.name).toMatch(/_total$/);
      if (spec.type === 'histogram') expect(spec.name).toMatch(/_seconds$/);
      expect(spec.help.length).toBeGreaterThan(10);
      for (const label of spec.labelNames) {
        expect([
          'topic',
          'partition',
          'status',
          'outcome',
          'reason',
          'mode',
          'version',
          'node_version',
          // Closed sets from src/gong/rule-catalogue.ts: seven rule names, two actions, two verdicts.
          'rule',
          'action',
          'verdict',
        ]).toContain(label);
      }
    }
  });

  it('registers on the injected registry only, never the global one', async () => {
    const { register } = await import('prom-client');
    const before = (await register.getMetricsAsJSON()).length;
    const metrics = fresh();
    expect((await register.getMetricsAsJSON()).length).toBe(before);
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    for (const spec of Object.values(metricCatalogue)) expect(names).toContain(spec.name);
  });

  it('exports build info and pre-initialises outcome, retry and dead-letter series at 0', async () => {
    const metrics = fresh();
    expect(
      await value(metrics, 'gong_bridge_build_info', { version: '9.9.9', node_version: 'v24.0.0' }),
    ).toBe(1);
    expect(await value(metrics, 'gong_bridge_deliveries_total', { outcome: 'delivered' })).toBe(0);
    expect(await value(metrics, 'gong_bridge_retries_total', { reason: 'transport' })).toBe(0);
    expect(await value(metrics, 'gong_bridge_dead_lettered_total', { reason: 'GONG_REJECTED' })).toBe(0);
    // Retriable codes never reach the dead-letter topic, so they get no series.
    expect(
      await value(metrics, 'gong_bridge_dead_lettered_total', { reason: 'GONG_TRANSIENT' }),
    ).toBeUndefined();
  });

  it('adds the default process metrics unless told not to', async () => {
    const metrics = createMetrics(new Registry(), { version: '1' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('process_resident_memory_bytes');
  });
});

describe('bindDeliveryMetrics', () => {
  it('counts outcomes, calls by status, latency, retries, 429s and the auth state from engine events', async () => {
    const metrics = fresh();
    const events = createDeliveryEvents();
    const unbind = bindDeliveryMetrics(events, metrics);
    events.emit('call', { status: 200, durationMs: 40, probe: false });
    events.emit('delivered', { eventId: 'a', status: 200, attempts: 1, elapsedMs: 40 });
    events.emit('call', { status: 409, durationMs: 20, probe: false });
    events.emit('duplicate', { eventId: 'b', attempts: 1, elapsedMs: 20 });
    events.emit('call', { status: 400, durationMs: 10, probe: false });
    events.emit('rejected', { eventId: 'c', status: 400, errors: ['x'], attempts: 1 });
    events.emit('invalid', { eventId: 'd', errors: ['y'] });
    events.emit('call', { code: 'ECONNRESET', durationMs: 3_000, probe: false });
    events.emit('retry', { attempt: 1, reason: 'transport', code: 'ECONNRESET', delayMs: 100 });
    events.emit('call', { status: 429, durationMs: 5, probe: false });
    events.emit('throttled', { retryAfterMs: 1000 });
    events.emit('retry', { attempt: 2, reason: 'throttled', status: 429, delayMs: 1000 });
    events.emit('retry-alert', { attempts: 10, elapsedMs: 300_000, lastReason: 'throttled' });

    expect(await value(metrics, 'gong_bridge_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_deliveries_total', { outcome: 'duplicate' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_deliveries_total', { outcome: 'rejected' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_deliveries_total', { outcome: 'invalid' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_gong_calls_total', { status: '200' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_gong_calls_total', { status: 'transport' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_gong_calls_total', { status: '429' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_gong_throttled_total')).toBe(1);
    expect(await value(metrics, 'gong_bridge_retries_total', { reason: 'transport' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_retries_total', { reason: 'throttled' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_retry_alerts_total')).toBe(1);

    const histogram = await metrics.registry.getSingleMetric('gong_bridge_gong_call_duration_seconds')!.get();
    const count = histogram.values.find((entry) =>
      (entry as { metricName?: string }).metricName?.endsWith('_count'),
    );
    const sum = histogram.values.find((entry) =>
      (entry as { metricName?: string }).metricName?.endsWith('_sum'),
    );
    expect(count?.value).toBe(5);
    expect(sum?.value).toBeCloseTo(3.075, 6);

    events.emit('auth-failed', { status: 401, reason: 'credentials' });
    expect(await value(metrics, 'gong_bridge_gong_auth_failed')).toBe(1);
    events.emit('auth-recovered', { haltedMs: 1000, probes: 1 });
    expect(await value(metrics, 'gong_bridge_gong_auth_failed')).toBe(0);

    unbind();
    events.emit('delivered', { status: 200, attempts: 1, elapsedMs: 1 });
    expect(await value(metrics, 'gong_bridge_deliveries_total', { outcome: 'delivered' })).toBe(1);
  });

  it('names why delivery is stopped: every halt reason and a Gong outage, one series each', async () => {
    const metrics = fresh();
    const events = createDeliveryEvents();
    bindDeliveryMetrics(events, metrics);
    const halted = async () => {
      const data = await metrics.registry.getSingleMetric('gong_bridge_delivery_halted')!.get();
      return Object.fromEntries(data.values.map((entry) => [String(entry.labels.reason), entry.value]));
    };
    expect(Object.values(await halted()).every((v) => v === 0)).toBe(true);
    expect(Object.keys(await halted()).sort()).toEqual(
      [
        'connection',
        'credentials',
        'endpoint',
        'gong-unavailable',
        'headers',
        'proxy',
        'rejections',
        'token-unavailable',
      ].sort(),
    );
    events.emit('outage', { status: 503, failures: 3 });
    expect(await halted()).toMatchObject({ 'gong-unavailable': 1, credentials: 0 });
    events.emit('outage-ended', { outageMs: 10, probes: 2, status: 401 });
    events.emit('auth-failed', { status: 400, reason: 'rejections' });
    expect(await halted()).toMatchObject({ 'gong-unavailable': 0, rejections: 1 });
    // The breaker is not a credentials problem: the auth alert stays quiet.
    expect(await value(metrics, 'gong_bridge_gong_auth_failed')).toBe(0);
    events.emit('auth-recovered', { haltedMs: 1000, probes: 1 });
    expect(Object.values(await halted()).every((v) => v === 0)).toBe(true);

    let reason: string | undefined = 'proxy';
    metrics.sources.deliveryHalted = () => reason;
    expect(await halted()).toMatchObject({ proxy: 1, rejections: 0 });
    reason = undefined;
    expect(await halted()).toMatchObject({ proxy: 0 });
  });

  it('counts inferred rules per rule: sent flagged, then confirmed or refuted by Gong', async () => {
    const metrics = fresh();
    const events = createDeliveryEvents();
    const runtime = new RuntimeEvents();
    bindDeliveryMetrics(events, metrics);
    bindRuntimeMetrics(runtime, metrics, { clock: new ManualClock() });
    const flagged = (rule: string, action: string) =>
      value(metrics, 'gong_bridge_inferred_rule_flagged_total', { rule, action });
    const verdicts = (rule: string, verdict: string) =>
      value(metrics, 'gong_bridge_inferred_rule_verdicts_total', { rule, verdict });
    // Every rule's series exist from the start, so a ratio of confirmed to refuted never divides
    // an absent series.
    expect(await flagged('custom-field-value-type', 'withheld')).toBe(0);
    expect(await verdicts('unknown-field', 'refuted')).toBe(0);

    const rules = ['numeric-value-in-range', 'step-in-available-steps'] as const;
    events.emit('flagged', { eventId: 'a', inferredRules: rules, warnings: ['w1', 'w2'] });
    events.emit('rejected', { eventId: 'a', status: 400, errors: ['x'], attempts: 1, inferredRules: rules });
    events.emit('flagged', { eventId: 'b', inferredRules: ['numeric-value-in-range'], warnings: ['w'] });
    events.emit('delivered', {
      eventId: 'b',
      status: 200,
      attempts: 1,
      elapsedMs: 5,
      inferredRules: ['numeric-value-in-range'],
    });
    // A refusal for size says nothing about the rules, nor does a 409.
    events.emit('flagged', { eventId: 'c', inferredRules: ['unknown-field'], warnings: ['w'] });
    events.emit('rejected', { status: 413, errors: ['x'], attempts: 1, inferredRules: ['unknown-field'] });
    events.emit('duplicate', { attempts: 1, elapsedMs: 1, inferredRules: ['unknown-field'] });
    // Withheld (GONG_INFERRED_RULES=reject) shows up as the runtime's dead letter.
    const ref = { topic: 't', partition: 0, offset: '7', dlqTopic: 't.dlq' };
    runtime.emit('dead-lettered', { ...ref, reason: 'GONG_INVALID', inferredRules: ['steps-not-empty'] });
    runtime.emit('dead-lettered', { ...ref, reason: 'GONG_REJECTED', inferredRules: ['steps-not-empty'] });

    expect(await flagged('numeric-value-in-range', 'sent')).toBe(2);
    expect(await flagged('step-in-available-steps', 'sent')).toBe(1);
    expect(await flagged('unknown-field', 'sent')).toBe(1);
    expect(await flagged('steps-not-empty', 'withheld')).toBe(1);
    expect(await flagged('steps-not-empty', 'sent')).toBe(0);
    expect(await verdicts('numeric-value-in-range', 'confirmed')).toBe(1);
    expect(await verdicts('numeric-value-in-range', 'refuted')).toBe(1);
    expect(await verdicts('step-in-available-steps', 'confirmed')).toBe(1);
    expect(await verdicts('unknown-field', 'confirmed')).toBe(0);
    expect(await verdicts('unknown-field', 'refuted')).toBe(0);
  });

  it('reads the auth state from the engine at scrape time when a source is given', async () => {
    const metrics = fresh();
    let halted = true;
    metrics.sources.authFailed = () => halted;
    expect(await value(metrics, 'gong_bridge_gong_auth_failed')).toBe(1);
    halted = false;
    expect(await value(metrics, 'gong_bridge_gong_auth_failed')).toBe(0);
  });
});

describe('bindLimiterMetrics', () => {
  it('observes queueing time and exports the snapshot at scrape time', async () => {
    const clock = new ManualClock();
    const limiter = new LocalLimiter({
      ratePerSecond: 2,
      dailyLimit: 100,
      dailyWindow: 'rolling',
      clock,
      sleep: (ms, signal) => clock.sleep(ms, signal),
    });
    const metrics = fresh();
    bindLimiterMetrics(limiter, metrics);
    await limiter.acquire();
    await limiter.acquire();
    const third = limiter.acquire();
    await clock.advance(1_000);
    await third;

    expect(await value(metrics, 'gong_bridge_daily_quota_remaining')).toBe(97);
    expect(await value(metrics, 'gong_bridge_daily_quota_limit')).toBe(100);
    expect(await value(metrics, 'gong_bridge_limiter_rate_per_second')).toBe(2);
    expect(await value(metrics, 'gong_bridge_limiter_fallback')).toBe(0);
    // One-hot over the closed set of modes, for `gong-bridge status` to add shares or count once.
    const modes = await metrics.registry.getSingleMetric('gong_bridge_limiter_mode')!.get();
    expect(Object.fromEntries(modes.values.map((entry) => [entry.labels.mode, entry.value]))).toEqual({
      local: 1,
      redis: 0,
      'local-fallback': 0,
      disabled: 0,
    });
    const tokens = await value(metrics, 'gong_bridge_limiter_tokens_available');
    expect(tokens).toBeGreaterThanOrEqual(0);
    expect(tokens).toBeLessThanOrEqual(2);
    const waits = await metrics.registry.getSingleMetric('gong_bridge_limiter_wait_seconds')!.get();
    const count = waits.values.find((entry) =>
      (entry as { metricName?: string }).metricName?.endsWith('_count'),
    );
    expect(count?.value).toBe(3);
    await limiter.close();
  });

  it('counts refunded grants and exports the average margin answered calls kept (issue 14)', async () => {
    const clock = new ManualClock();
    const limiter = new LocalLimiter({
      ratePerSecond: 5,
      dailyLimit: 100,
      dailyWindow: 'rolling',
      windowMarginMs: 50,
      clock,
      sleep: (ms, signal) => clock.sleep(ms, signal),
    });
    const metrics = fresh();
    bindLimiterMetrics(limiter, metrics);
    (await limiter.acquire()).release();
    expect(await value(metrics, 'gong_bridge_limiter_refunds_total')).toBe(1);
    expect(await value(metrics, 'gong_bridge_daily_quota_remaining')).toBe(100);
    // Until answers come back every call keeps the whole margin.
    expect(await value(metrics, 'gong_bridge_limiter_window_margin_seconds')).toBe(0.05);
    for (let i = 0; i < 10; i += 1) {
      const slot = await limiter.acquire();
      slot.onWire();
      await clock.advance(20);
      slot.release();
      await clock.advance(1_000);
    }
    // 8 warm-up answers at the cap, then two answered as fast as the fastest: 2 ms each.
    expect(await value(metrics, 'gong_bridge_limiter_window_margin_seconds')).toBeCloseTo(
      (8 * 50 + 2 * 2) / 10 / 1000,
    );
    await limiter.close();
  });

  it('exports the projected exhaustion as unix seconds, and +Inf when there is none', async () => {
    const metrics = fresh();
    let snapshot: LimiterSnapshot = {
      tokensAvailable: 3,
      ratePerSecond: 3,
      dailyLimit: 10_000,
      dailyRemaining: 500,
      projectedExhaustionAt: Date.UTC(2026, 10, 24, 18, 0, 0),
      pausedUntil: null,
      pauseReason: null,
      mode: 'local-fallback',
    };
    metrics.sources.limiter = () => snapshot;
    expect(await value(metrics, 'gong_bridge_daily_quota_projected_exhaustion_timestamp_seconds')).toBe(
      Date.UTC(2026, 10, 24, 18, 0, 0) / 1000,
    );
    expect(await value(metrics, 'gong_bridge_limiter_fallback')).toBe(1);
    snapshot = { ...snapshot, projectedExhaustionAt: null };
    expect(await value(metrics, 'gong_bridge_daily_quota_projected_exhaustion_timestamp_seconds')).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(await metrics.registry.metrics()).toContain(
      'gong_bridge_daily_quota_projected_exhaustion_timestamp_seconds +Inf',
    );
  });
});

describe('consumer lag', () => {
  it('is the high watermark minus the committed offset, or everything retained without a usable commit', () => {
    expect(partitionLag({ partition: 0, high: '100', low: '0', committed: '60' })).toBe(40);
    expect(partitionLag({ partition: 0, high: '100', low: '10', committed: '-1' })).toBe(90);
    expect(partitionLag({ partition: 0, high: '100', low: '50', committed: '20' })).toBe(50);
    expect(partitionLag({ partition: 0, high: '100', low: '0', committed: '100' })).toBe(0);
  });

  it('polls every interval and counts failed polls without dropping the last values', async () => {
    const clock = new ManualClock();
    const metrics = fresh();
    let high = '10';
    let fail = false;
    const admin: LagAdmin = {
      fetchOffsets: async () => {
        if (fail) throw new Error('broker gone');
        return [{ topic: 't', partitions: [{ partition: 0, offset: '4', metadata: null }] }];
      },
      fetchTopicOffsets: async () => [
        { partition: 0, offset: high, high, low: '0' },
        { partition: 1, offset: '3', high: '3', low: '0' },
      ],
    };
    const errors: unknown[] = [];
    const poller = startLagPoller({
      admin,
      groupId: 'g',
      topics: ['t'],
      metrics,
      intervalMs: 5_000,
      sleep: (ms, signal) => clock.sleep(ms, signal),
      onError: (error) => errors.push(error),
    });
    await clock.advance(0);
    expect(await value(metrics, 'gong_bridge_consumer_lag_records', { topic: 't', partition: '0' })).toBe(6);
    expect(await value(metrics, 'gong_bridge_consumer_lag_records', { topic: 't', partition: '1' })).toBe(3);
    high = '20';
    await clock.advance(5_000);
    expect(await value(metrics, 'gong_bridge_consumer_lag_records', { topic: 't', partition: '0' })).toBe(16);
    fail = true;
    await clock.advance(5_000);
    expect(errors).toHaveLength(1);
    expect(await value(metrics, 'gong_bridge_consumer_lag_poll_errors_total')).toBe(1);
    expect(await value(metrics, 'gong_bridge_consumer_lag_records', { topic: 't', partition: '0' })).toBe(16);
    await poller.stop();
  });
});

describe('bindRuntimeMetrics', () => {
  it('a commit settles the offsets below it as numbers, not as text (9 < 10, 99 < 100)', async () => {
    const clock = new ManualClock();
    const metrics = fresh();
    const events = new RuntimeEvents();
    bindRuntimeMetrics(events, metrics, { clock });
    for (const offset of ['9', '10', '99', '100', '1000']) {
      events.emit('consumed', { topic: 'in', partition: 0, offset, bytes: 1 });
      await clock.advance(1_000);
    }
    // Committed up to 100: 9, 10 and 99 are settled; 100 (fetched 2 s ago) is the oldest left.
    events.emit('committed', { topic: 'in', partition: 0, offset: '100' });
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(2);
    expect([
      offsetBelow('9', '10'),
      offsetBelow('10', '9'),
      offsetBelow('99', '99'),
      offsetBelow('123', '124'),
    ]).toEqual([true, false, false, true]);
  });

  it('counts consumption, dead letters, commits, pauses and Kafka-side errors, and ages the oldest unsettled record', async () => {
    const clock = new ManualClock();
    const metrics = fresh();
    const events = new RuntimeEvents();
    bindRuntimeMetrics(events, metrics, { clock });
    const ref = (offset: number, partition = 0) => ({ topic: 'in', partition, offset: String(offset) });

    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(0);
    events.emit('consumed', { ...ref(10), bytes: 100 });
    await clock.advance(2_000);
    events.emit('consumed', { ...ref(11), bytes: 100 });
    events.emit('consumed', { ...ref(5, 1), bytes: 100 });
    await clock.advance(1_000);
    expect(await value(metrics, 'gong_bridge_events_consumed_total', { topic: 'in' })).toBe(3);
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(3);

    events.emit('delivered', {
      ...ref(10),
      eventId: 'e',
      outcome: 'delivered',
      status: 200,
      attempts: 1,
      latencyMs: 5,
    });
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(1);
    events.emit('dead-lettered', { ...ref(11), reason: 'GONG_REJECTED', dlqTopic: 'in.dlq' });
    expect(await value(metrics, 'gong_bridge_dead_lettered_total', { reason: 'GONG_REJECTED' })).toBe(1);
    // Partition 1 moved to another member, which settled and committed it.
    events.emit('committed', ref(6, 1));
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(0);
    expect(await value(metrics, 'gong_bridge_commits_total')).toBe(1);
    expect(await value(metrics, 'gong_bridge_last_committed_offset', { topic: 'in', partition: '1' })).toBe(
      6,
    );

    events.emit('consumed', { ...ref(12), bytes: 1 });
    await clock.advance(4_000);
    events.emit('rebalance', { phase: 'assigned', partitions: [{ topic: 'in', partition: 1 }] });
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(0);

    events.emit('consumed', { ...ref(13, 1), bytes: 1 });
    await clock.advance(1_000);
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(1);
    events.emit('rebalance', { phase: 'revoked', settled: 0, abandoned: 1, durationMs: 5 });
    expect(await value(metrics, 'gong_bridge_oldest_undelivered_age_seconds')).toBe(0);

    events.emit('paused', { reason: 'backpressure', partitions: 3 });
    expect(await value(metrics, 'gong_bridge_paused_partitions')).toBe(3);
    events.emit('resumed', { reason: 'backpressure', pausedMs: 10 });
    expect(await value(metrics, 'gong_bridge_paused_partitions')).toBe(0);
    events.emit('registry-unavailable', {
      ...ref(1),
      code: 'REGISTRY_UNAVAILABLE',
      error: 'down',
      retryInMs: 500,
    });
    const failure = {
      error: 'x',
      matched: 'REQUEST_TIMED_OUT',
      attempt: 1,
      messages: 3,
      retryInMs: 100,
    } as const;
    events.emit('dlq-write-failed', { ...failure, outcome: 'retry' });
    events.emit('dlq-write-failed', { ...failure, outcome: 'halt' });
    expect(await value(metrics, 'gong_bridge_schema_registry_errors_total')).toBe(1);
    expect(await value(metrics, 'gong_bridge_dlq_produce_errors_total', { outcome: 'retry' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_dlq_produce_errors_total', { outcome: 'halt' })).toBe(1);
    expect(await value(metrics, 'gong_bridge_dlq_produce_errors_total', { outcome: 'too-large' })).toBe(0);
    // The halts of the runtime's own dependencies, each a gauge an alert watches.
    expect(await value(metrics, 'gong_bridge_dlq_unwritable')).toBe(0);
    events.emit('halted', { reason: 'dlq', error: 'TOPIC_AUTHORIZATION_FAILED' });
    events.emit('halted', { reason: 'registry-auth', error: '401' });
    expect(await value(metrics, 'gong_bridge_dlq_unwritable')).toBe(1);
    expect(await value(metrics, 'gong_bridge_schema_registry_auth_failed')).toBe(1);
    events.emit('unhalted', { reason: 'dlq', haltedMs: 10 });
    events.emit('unhalted', { reason: 'registry-auth', haltedMs: 10 });
    expect(await value(metrics, 'gong_bridge_dlq_unwritable')).toBe(0);
    expect(await value(metrics, 'gong_bridge_schema_registry_auth_failed')).toBe(0);
    expect(await value(metrics, 'gong_bridge_internal_errors_total')).toBe(0);
    events.emit('internal-error', { ...ref(2), error: 'TypeError: x is undefined' });
    expect(await value(metrics, 'gong_bridge_internal_errors_total')).toBe(1);
    events.emit('ready-state', { ready: true, joined: true, authOk: true, halts: [], shuttingDown: false });
    expect(await value(metrics, 'gong_bridge_ready')).toBe(1);
  });
});
