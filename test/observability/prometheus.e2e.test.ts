import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { secretValues } from '../../src/observability/logger.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { bridgeEnv, produceTo, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { program, requires } from '../helpers/requirements.ts';

/**
 * The acceptance, end to end: `gong-bridge run` as a real process with sample traffic
 * from real Kafka through the Gong sandbox, scraped every second by a real Prometheus (Debian's
 * `prometheus` package) that also loads the shipped alert rules. Then every dashboard panel query
 * and every alert expression is evaluated through Prometheus's HTTP API: each must parse, and
 * each panel query must return data, so a panel on a missing or renamed metric fails here. The
 * bridge runs at LOG_LEVEL=trace with distinctive secrets, and none may appear in its output.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');
const alertsFile = join(root, 'deploy/prometheus/alerts.yaml');
const dashboardFile = join(root, 'deploy/grafana/gong-bridge.json');
const job = 'gong-bridge';

// Both come with Debian's prometheus package, which scripts/prereqs.sh installs for `make test`.
const needsPrometheus = requires(
  program('prometheus', 'apt-get install prometheus'),
  program('promtool', 'apt-get install prometheus'),
);

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  title: string;
  targets?: Target[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

/** Grafana's variables, replaced the way Grafana would for this job and a 1 s scrape interval. */
function grafanaToPromql(expr: string): string {
  return expr.replaceAll('$__rate_interval', '30s').replaceAll('${job}', job).replaceAll('$job', job);
}

function metricNames(expr: string): string[] {
  const names = expr.match(/\b(?:gong_bridge|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
  return [...new Set(names.map((name) => name.replace(/_(bucket|count|sum)$/, '')))];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface QueryResult {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('real Prometheus scraping a running bridge', needsPrometheus, () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const topic = uniqueName('obs');
  const groupId = uniqueName('obs-bridge');
  const secrets = {
    GONG_ACCESS_KEY: `ak-${uniqueName('e2e')}`,
    GONG_ACCESS_KEY_SECRET: `sk-${uniqueName('e2e')}-s3cr3t`,
  };
  // The local registry ignores Basic auth, so these go on every lookup without being needed;
  // they, and the Basic header built from them, must still never be logged. (SASL needs a broker
  // that speaks it: test/observability/logger.test.ts covers its password.)
  const registrySecrets = {
    SCHEMA_REGISTRY_USERNAME: 'bridge-reader',
    SCHEMA_REGISTRY_PASSWORD: `reg-${uniqueName('pw')}`,
  };
  const work = mkdtempSync(join(tmpdir(), 'gong-bridge-prom-'));
  let sandbox: RunningSandbox;
  let dropTopics: () => Promise<void> = async () => {};
  let bridge: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let bridgeOutput = '';
  let prometheusOutput = '';
  let promUrl = '';
  let bridgeUrl = '';
  let bridgeEnvironment: Record<string, string> = {};

  async function query(expr: string): Promise<QueryResult> {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as QueryResult;
  }

  async function hasData(expr: string): Promise<boolean> {
    const result = await query(expr);
    return result.status === 'success' && (result.data?.result.length ?? 0) > 0;
  }

  beforeAll(async () => {
    await admin.connect();
    dropTopics = await createTopics(admin, [topic], 3);
    sandbox = await startSandbox({
      ...{ accessKey: secrets.GONG_ACCESS_KEY, accessKeySecret: secrets.GONG_ACCESS_KEY_SECRET },
      rps: 0,
      daily: 0,
      // Some 5xx and lost replies, so retries and duplicates show on the dashboard.
      faults: { failRate: 0.05, lostReplyRate: 0.03, latencyMs: 5, latencyJitterMs: 20 },
    });
    // Redis credentials the local Redis does not need: it accepts them and they must still never be logged.
    const redis = new URL(inject('services').redisUrl);
    redis.password = `redis-${uniqueName('pw')}`;
    bridgeEnvironment = bridgeEnv({
      ...secrets,
      ...registrySecrets,
      REDIS_URL: redis.href,
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      GONG_BASE_URL: sandbox.url,
      // Slow enough that delivery is still going while Prometheus scrapes.
      GONG_RATE_PER_SECOND: '25',
      GONG_DAILY_LIMIT: '100000',
      LAG_POLL_INTERVAL_MS: '1000',
      LOG_LEVEL: 'trace',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(await freePort()),
    });
    bridgeUrl = `http://127.0.0.1:${bridgeEnvironment.HTTP_PORT}`;
    await produceTo(kafka, topic, 600, { invalidRatio: 0.05, undecodableRatio: 0.02 });

    bridge = spawn(process.execPath, [main, 'run'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...bridgeEnvironment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    bridge.stdout?.on('data', (chunk: Buffer) => (bridgeOutput += chunk.toString()));
    bridge.stderr?.on('data', (chunk: Buffer) => (bridgeOutput += chunk.toString()));
    await waitFor(
      'the bridge to serve /metrics',
      async () => (await fetch(`${bridgeUrl}/metrics`).catch(() => undefined))?.ok === true,
      60_000,
      200,
    );

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const config = join(work, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(alertsFile)}`,
        'scrape_configs:',
        `  - job_name: ${job}`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${bridgeEnvironment.HTTP_PORT}']`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(work, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--storage.tsdb.retention.time=1h',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on(
      'data',
      (chunk: Buffer) => (prometheusOutput = (prometheusOutput + chunk.toString()).slice(-10_000)),
    );
    prometheus.stderr?.on(
      'data',
      (chunk: Buffer) => (prometheusOutput = (prometheusOutput + chunk.toString()).slice(-10_000)),
    );
    await waitFor(
      'Prometheus to be ready',
      async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true,
      60_000,
      200,
    );
    // Several scrapes with deliveries, commits and lag in them, so rate() windows hold data.
    await waitFor('a successful scrape', () => hasData(`up{job="${job}"} == 1`), 30_000, 500);
    await waitFor(
      'deliveries in Prometheus',
      () => hasData(`gong_bridge_deliveries_total{outcome="delivered"} > 0`),
      60_000,
      500,
    );
    await waitFor('lag in Prometheus', () => hasData('gong_bridge_consumer_lag_records'), 30_000, 500);
    await waitFor('commits in Prometheus', () => hasData('gong_bridge_commits_total > 0'), 30_000, 500);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    if (bridge !== undefined && bridge.exitCode === null) {
      const exited = new Promise((resolve) => bridge?.once('exit', resolve));
      bridge.kill('SIGTERM');
      await exited;
    }
    await sandbox?.close();
    await dropTopics();
    await admin.deleteTopics({ topics: [`${topic}.dlq`] }).catch(() => {});
    await admin.disconnect();
    rmSync(work, { recursive: true, force: true });
  });

  it('returns data for every dashboard panel query', async () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
    const failures: string[] = [];
    let checked = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const expr = grafanaToPromql(target.expr);
        const result = await query(expr);
        checked += 1;
        if (result.status !== 'success') failures.push(`${panel.title} [${target.refId}]: ${result.error}`);
        else if ((result.data?.result.length ?? 0) === 0)
          failures.push(`${panel.title} [${target.refId}]: no data for ${expr}`);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
    expect(failures, prometheusOutput).toEqual([]);
  });

  it('has a job variable whose query finds this bridge', async () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
    const variables = dashboard.templating.list;
    expect(variables.find((variable) => variable.name === 'DS_PROMETHEUS')?.type).toBe('datasource');
    const jobVariable = variables.find((variable) => variable.name === 'job');
    const match = /^label_values\((\w+), job\)$/.exec(jobVariable?.definition ?? '');
    expect(match).not.toBeNull();
    const result = await query(match?.[1] ?? '');
    expect(result.data?.result.map((series) => series.metric.job)).toContain(job);
  });

  it('parses every alert expression, and Prometheus evaluates every rule without error', async () => {
    const rules = (
      parseYaml(readFileSync(alertsFile, 'utf8')) as {
        groups: { rules: { alert: string; expr: string }[] }[];
      }
    ).groups.flatMap((group) => group.rules);
    for (const rule of rules) {
      const result = await query(rule.expr);
      expect(result.status, `${rule.alert}: ${result.error}`).toBe('success');
    }
    const loaded = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const health = loaded.data.groups.flatMap((group) => group.rules);
    expect(health.map((rule) => rule.name).sort()).toEqual(rules.map((rule) => rule.alert).sort());
    for (const rule of health) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
  });

  it('scrapes every metric that a panel or an alert refers to', async () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
    const rules = (
      parseYaml(readFileSync(alertsFile, 'utf8')) as { groups: { rules: { expr: string }[] }[] }
    ).groups.flatMap((group) => group.rules);
    const names = new Set([
      ...dashboard.panels.flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => metricNames(target.expr)),
      ),
      ...rules.flatMap((rule) => metricNames(rule.expr)),
    ]);
    const missing: string[] = [];
    for (const name of names) {
      const probe = `count({__name__=~"${name}|${name}_bucket"})`;
      if (!(await hasData(probe))) missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('serves /metrics that promtool accepts, and reports ready with the quota', async () => {
    const text = await (await fetch(`${bridgeUrl}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text });
    expect(`${check.stdout.toString()}${check.stderr.toString()}`).toBe('');
    expect(check.status).toBe(0);
    const ready = await fetch(`${bridgeUrl}/readyz`);
    const body = (await ready.json()) as { ready: boolean; quota: { dailyLimit: number } | null };
    expect(ready.status).toBe(200);
    expect(body.ready).toBe(true);
    expect(body.quota?.dailyLimit).toBe(100_000);
  });

  it('stops cleanly on SIGTERM, and its trace-level output holds no configured secret', async () => {
    const exited = new Promise<number | null>((resolve) => bridge?.once('exit', (code) => resolve(code)));
    bridge?.kill('SIGTERM');
    expect(await exited, bridgeOutput.slice(-3_000)).toBe(0);
    const lines = bridgeOutput.split('\n').filter((line) => line.startsWith('{'));
    // Trace really was on: per-call lines are there.
    expect(lines.some((line) => (JSON.parse(line) as { event?: string }).event === 'call')).toBe(true);
    const values = secretValues(loadConfig(bridgeEnvironment));
    expect(values.length).toBeGreaterThanOrEqual(6);
    for (const value of values)
      expect(bridgeOutput.includes(value), `leaked a secret (${value.length} chars)`).toBe(false);
    expect(bridgeOutput).not.toContain(new URL(bridgeEnvironment.REDIS_URL ?? '').password);
  });
});
