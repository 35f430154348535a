import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createDeliveryEvents } from '../../src/delivery/events.ts';
import { systemClock } from '../../src/delivery/system-time.ts';
import { RuntimeEvents } from '../../src/kafka/events.ts';
import { startObservabilityServer } from '../../src/observability/http-server.ts';
import { bindDeliveryMetrics, bindRuntimeMetrics, createMetrics } from '../../src/observability/metrics.ts';
import { createReadiness } from '../../src/observability/readiness.ts';
import { program, requires } from '../helpers/requirements.ts';

/**
 * The alert rules and the /metrics output checked by Prometheus's own tool. promtool comes with
 * Debian's `prometheus` package, which scripts/prereqs.sh installs for `make test`; run alone
 * without it, these tests are skipped with that reason in the closing lines (and fail under CI).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const alertsFile = join(root, 'deploy/prometheus/alerts.yaml');
const alertsTestFile = join(root, 'deploy/prometheus/alerts.test.yaml');
const run = promisify(execFile);

const needsPromtool = requires(program('promtool', 'apt-get install prometheus'));

interface Rule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}
interface AlertTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const rules = (parseYaml(readFileSync(alertsFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (group) => group.rules,
);
const unitTests = (parseYaml(readFileSync(alertsTestFile, 'utf8')) as { tests: AlertTest[] }).tests;

describe('alert rules', () => {
  it('give every alert a summary, a description and a runbook section that exists', () => {
    const runbook = readFileSync(join(root, 'docs/runbook.md'), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^##\s+(.+)$/gm)].map((match) =>
        (match[1] ?? '')
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const rule of rules) {
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const url = rule.annotations?.runbook_url ?? '';
      expect(url, rule.alert).toMatch(/^docs\/runbook\.md#/);
      expect(anchors, `${rule.alert}: runbook anchor ${url}`).toContain(url.split('#')[1]);
      expect(url.split('#')[1]).toBe(rule.alert.toLowerCase());
    }
  });

  it('have unit tests in which every alert both fires and stays silent', () => {
    const cases = unitTests.flatMap((test) => test.alert_rule_test ?? []);
    for (const rule of rules) {
      const mine = cases.filter((entry) => entry.alertname === rule.alert);
      expect(
        mine.some((entry) => (entry.exp_alerts ?? []).length > 0),
        `${rule.alert} fires`,
      ).toBe(true);
      expect(
        mine.some((entry) => (entry.exp_alerts ?? []).length === 0),
        `${rule.alert} silent`,
      ).toBe(true);
    }
  });

  it('pass promtool check rules', needsPromtool, async () => {
    const { stdout } = await run('promtool', ['check', 'rules', alertsFile]);
    expect(stdout).toContain('SUCCESS');
  });

  it('pass promtool test rules', needsPromtool, async () => {
    const { stdout } = await run('promtool', ['test', 'rules', alertsTestFile]);
    expect(stdout).toContain('SUCCESS');
  });
});

describe('/metrics output', () => {
  it('passes promtool check metrics after real traffic through the bindings', needsPromtool, async () => {
    const metrics = createMetrics(new Registry(), { version: '0.1.0' });
    const engine = createDeliveryEvents();
    const runtime = new RuntimeEvents();
    bindDeliveryMetrics(engine, metrics);
    bindRuntimeMetrics(runtime, metrics, { clock: systemClock });
    runtime.emit('consumed', { topic: 'in', partition: 0, offset: '0', bytes: 10 });
    engine.emit('call', { status: 200, durationMs: 12, probe: false });
    engine.emit('delivered', { status: 200, attempts: 1, elapsedMs: 12 });
    runtime.emit('committed', { topic: 'in', partition: 0, offset: '1' });
    metrics.consumerLag.set({ topic: 'in', partition: '0' }, 0);
    const server = await startObservabilityServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      readiness: createReadiness(),
      loopHealth: () => ({ healthy: true, lastDelayMs: 0, sinceLastBeatMs: 0 }),
    });
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toContain('gong_bridge_gong_call_duration_seconds_bucket');
      const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stdin.end(text);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(output, 'promtool check metrics findings').toBe('');
      expect(code).toBe(0);
    } finally {
      await server.close();
    }
  });
});
