import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../src/status/prometheus-text.ts';
import { renderStatus } from '../../src/status/render.ts';
import { summarizeStatus, type Scrape } from '../../src/status/summary.ts';

describe('parsePrometheusText', () => {
  it('reads names, escaped labels, special values, and skips comments and timestamps', () => {
    const samples = parsePrometheusText(
      [
        '# HELP x_total Things.',
        '# TYPE x_total counter',
        'x_total{reason="A",path="C:\\\\dir \\"q\\"\\nnext"} 3 1700000000000',
        'y +Inf',
        'z{} NaN',
        'w -1.5e3',
        'broken{a="1" 2',
        '',
      ].join('\n'),
    );
    expect(samples.slice(0, 2)).toEqual([
      { name: 'x_total', labels: { reason: 'A', path: 'C:\\dir "q"\nnext' }, value: 3 },
      { name: 'y', labels: {}, value: Number.POSITIVE_INFINITY },
    ]);
    expect(samples[2]?.value).toBeNaN();
    expect(samples[3]).toEqual({ name: 'w', labels: {}, value: -1500 });
    expect(samples).toHaveLength(4);
  });
});

function replica(url: string, at: number, metrics: string): Scrape {
  return { url, at, samples: parsePrometheusText(metrics) };
}

const base = (mode: string, calls: number, extra = '') =>
  [
    `gong_bridge_gong_calls_total{status="200"} ${calls}`,
    `gong_bridge_gong_calls_total{status="429"} 1`,
    'gong_bridge_limiter_rate_per_second 3',
    `gong_bridge_limiter_mode{mode="${mode}"} 1`,
    `gong_bridge_limiter_mode{mode="${mode === 'redis' ? 'local' : 'redis'}"} 0`,
    'gong_bridge_daily_quota_remaining 900',
    'gong_bridge_daily_quota_limit 1000',
    'gong_bridge_daily_quota_projected_exhaustion_timestamp_seconds +Inf',
    'gong_bridge_ready 1',
    extra,
  ].join('\n');

/** Two readings of replicas a and b, `ms` apart, with the given call counters. */
function readings(mode: string, before: [number, number], after: [number, number], ms: number) {
  const at = (time: number, calls: [number, number]) =>
    (['a', 'b'] as const).map((name, index) =>
      replica(`http://${name}/metrics`, time, base(mode, calls[index]!)),
    );
  return { before: at(0, before), after: at(ms, after) };
}

describe('summarizeStatus', () => {
  it('computes call rates from two readings and adds local shares', () => {
    const { before, after } = readings('local', [10, 0], [16, 2], 2_000);
    const report = summarizeStatus(after, before);
    expect(report.windowSeconds).toBe(2);
    expect(report.replicas.map((entry) => entry.callsPerSecond)).toEqual([3, 1]);
    expect(report.calls).toEqual({ perSecond: 4, allowedPerSecond: 6 });
    expect(report.quota).toEqual({ remaining: 1800, limit: 2000, exhaustsAt: null, shared: false });
  });

  it('counts a budget shared through Redis once, and a restarted counter as unknown', () => {
    const { before, after } = readings('redis', [50, 5], [53, 1], 1_000);
    const report = summarizeStatus(after, before);
    expect(report.replicas.map((entry) => entry.callsPerSecond)).toEqual([3, null]);
    expect(report.calls.allowedPerSecond).toBe(3);
    expect(report.quota).toMatchObject({ remaining: 900, limit: 1000, shared: true });
  });

  it('takes the largest lag per partition, sums dead letters, and names halts by cause', () => {
    const extraA = [
      'gong_bridge_consumer_lag_records{topic="t",partition="0"} 5',
      'gong_bridge_consumer_lag_records{topic="t",partition="1"} 7',
      'gong_bridge_oldest_undelivered_age_seconds 2.5',
      'gong_bridge_dead_lettered_total{reason="GONG_INVALID"} 2',
      'gong_bridge_dead_lettered_total{reason="RECORD_TOO_LARGE"} 0',
      'gong_bridge_gong_auth_failed 1',
    ].join('\n');
    const extraB = [
      'gong_bridge_consumer_lag_records{topic="t",partition="0"} 9',
      'gong_bridge_dead_lettered_total{reason="GONG_INVALID"} 1',
      'gong_bridge_delivery_halted{reason="rejections"} 1',
      'gong_bridge_delivery_halted{reason="credentials"} 0',
    ].join('\n');
    const report = summarizeStatus([
      replica('http://user:pw@a/metrics', 0, base('local', 0, extraA)),
      replica('http://b/metrics', 0, base('local', 0, extraB)),
      { url: 'http://c/metrics', at: 0, error: 'connect ECONNREFUSED' },
    ]);
    expect(report.lag).toEqual({
      total: 16,
      partitions: [
        { topic: 't', partition: 0, records: 9 },
        { topic: 't', partition: 1, records: 7 },
      ],
      oldestUnsettledSeconds: 2.5,
    });
    expect(report.deadLetters).toEqual([{ reason: 'GONG_INVALID', total: 3, perMinute: null }]);
    expect(report.halts).toEqual([
      { replica: 'http://***@a/metrics', cause: expect.stringMatching(/^Gong refuses the credentials/) },
      {
        replica: 'http://b/metrics',
        cause: expect.stringMatching(
          /^rejection breaker open: .* \[gong_bridge_delivery_halted\{reason="rejections"\}\]$/,
        ),
      },
    ]);
    expect(report.replicasSeen).toBe(2);
    const screen = renderStatus(report, 0);
    expect(screen).toContain('http://c/metrics  DOWN  connect ECONNREFUSED');
    expect(screen).toMatch(/^Calls +measuring… of 6\/s allowed$/m);
    expect(screen).not.toContain('user:pw');
  });

  it('lists an auth halt once when the replica also labels it in gong_bridge_delivery_halted', () => {
    const metrics = base(
      'local',
      0,
      ['gong_bridge_gong_auth_failed 1', 'gong_bridge_delivery_halted{reason="credentials"} 1'].join('\n'),
    );
    const report = summarizeStatus([replica('http://a/metrics', 0, metrics)]);
    expect(report.halts).toEqual([
      {
        replica: 'http://a/metrics',
        cause: expect.stringMatching(/^Gong refuses the credentials .*\{reason="credentials"\}\]$/),
      },
    ]);
  });

  it('names the halts of the runtime dependencies: the DLQ, the receipts topic and the registry credentials', () => {
    const metrics = base(
      'local',
      0,
      [
        'gong_bridge_dlq_unwritable 1',
        'gong_bridge_receipts_unwritable 1',
        'gong_bridge_schema_registry_auth_failed 1',
      ].join('\n'),
    );
    const report = summarizeStatus([replica('http://a/metrics', 0, metrics)]);
    expect(report.halts.map((halt) => halt.cause)).toEqual([
      expect.stringMatching(/^the dead-letter topic refuses writes/),
      expect.stringMatching(/^the receipts topic refuses writes/),
      expect.stringMatching(/^the schema registry refuses the credentials/),
    ]);
    const quiet = base(
      'local',
      0,
      [
        'gong_bridge_dlq_unwritable 0',
        'gong_bridge_receipts_unwritable 0',
        'gong_bridge_schema_registry_auth_failed 0',
      ].join('\n'),
    );
    expect(summarizeStatus([replica('http://a/metrics', 0, quiet)]).halts).toEqual([]);
  });
});
