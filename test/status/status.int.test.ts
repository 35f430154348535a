import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import type { StatusReport } from '../../src/status/summary.ts';
import { repoRoot, runCli } from '../cli/run-cli.ts';
import { produceTo, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

/**
 * `gong-bridge status` against running bridges: real `gong-bridge run` processes on the local
 * stack (Kafka, Apicurio) delivering to the Gong sandbox, read through their real /metrics. One
 * replica delivers and dead-letters; a second, in its own group with credentials the sandbox
 * refuses, is in an auth halt.
 */

const kafka = testKafka();
const admin = kafka.admin();
const topic = uniqueName('status');
let deleteTopics: () => Promise<void>;
let sandbox: RunningSandbox;
const bridges: { child: ChildProcess; output: () => string; url: Promise<string> }[] = [];
let expectedDeadLetters: Record<string, number> = {};

function startRun(env: Record<string, string>) {
  const services = inject('services');
  const child = spawn(process.execPath, ['src/cli/main.ts', 'run'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
      KAFKA_TOPICS: topic,
      SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      GONG_BASE_URL: sandbox.url,
      GONG_RATE_PER_SECOND: '40',
      GONG_DAILY_LIMIT: '5000',
      GONG_AUTH_PROBE_INTERVAL_MS: '500',
      COMMIT_INTERVAL_MS: '200',
      LAG_POLL_INTERVAL_MS: '1000',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const url = (async () => {
    let found: string | undefined;
    await waitFor(
      'the bridge to serve /metrics',
      () => {
        found = /"event":"http-listening","url":"([^"]+)"/.exec(output)?.[1];
        return found !== undefined;
      },
      60_000,
    );
    return `${found!}/metrics`;
  })();
  const bridge = { child, output: () => output, url };
  bridges.push(bridge);
  return bridge;
}

async function status(
  args: string[],
): Promise<{ code: number | null; report: StatusReport; stderr: string }> {
  const run = await runCli(['status', '--json', '--interval', '1', ...args], undefined, {});
  return { code: run.code, report: run.lines[0] as unknown as StatusReport, stderr: run.stderr };
}

beforeAll(async () => {
  await admin.connect();
  deleteTopics = await createTopics(admin, [topic], 2);
  sandbox = await startSandbox({
    accessKey: 'status-key',
    accessKeySecret: 'status-secret',
    rps: 0,
    daily: 0,
  });
  const produced = await produceTo(kafka, topic, 30, { invalidRatio: 0.1, undecodableRatio: 0.1 });
  expectedDeadLetters = {};
  for (const sample of produced) {
    if (sample.expectedReason !== undefined)
      expectedDeadLetters[sample.expectedReason] = (expectedDeadLetters[sample.expectedReason] ?? 0) + 1;
  }
}, 120_000);

afterAll(async () => {
  for (const bridge of bridges) {
    if (bridge.child.exitCode === null) {
      const exited = new Promise((resolve) => bridge.child.once('exit', resolve));
      bridge.child.kill('SIGTERM');
      await exited;
    }
  }
  await sandbox?.close();
  await deleteTopics?.();
  await admin.disconnect();
});

describe('gong-bridge status against running bridges', () => {
  it('shows calls against the limit, quota, lag per partition, dead letters by reason, halts and replicas', async () => {
    const delivering = startRun({
      KAFKA_GROUP_ID: uniqueName('status-ok'),
      GONG_ACCESS_KEY: 'status-key',
      GONG_ACCESS_KEY_SECRET: 'status-secret',
    });
    const url = await delivering.url;
    await waitFor('the valid records to reach the sandbox', () => sandbox.stats().accepted >= 24, 60_000);

    // Lag is polled every second; wait until the poll saw the commits.
    let report: StatusReport | undefined;
    await waitFor(
      'status to see the topic drained',
      async () => {
        const result = await status([url]);
        expect(result.code, result.stderr).toBe(0);
        report = result.report;
        return report.lag.partitions.length === 2 && report.lag.total === 0;
      },
      60_000,
    );
    const seen = report!;
    expect(seen.replicasSeen).toBe(1);
    expect(seen.replicas[0]).toMatchObject({ url, up: true, ready: true, limiterMode: 'local' });
    expect(seen.calls.allowedPerSecond).toBe(40);
    expect(seen.calls.perSecond).toBe(0);
    expect(seen.quota).toMatchObject({ limit: 5000, shared: false });
    // Projected from the recent rate: some time after now, or never.
    if (seen.quota.exhaustsAt !== null)
      expect(Date.parse(seen.quota.exhaustsAt)).toBeGreaterThan(Date.parse(seen.at));
    // Every call the sandbox counted left this budget, and nothing else did.
    expect(seen.quota.remaining).toBe(5000 - sandbox.stats().calls);
    expect(seen.lag.partitions).toEqual([
      { topic, partition: 0, records: 0 },
      { topic, partition: 1, records: 0 },
    ]);
    expect(seen.lag.oldestUnsettledSeconds).toBe(0);
    expect(Object.fromEntries(seen.deadLetters.map((entry) => [entry.reason, entry.total]))).toEqual(
      expectedDeadLetters,
    );
    expect(seen.halts).toEqual([]);
  });

  it('lists an auth halt with its cause, a second replica, and a replica that does not answer', async () => {
    const refused = startRun({
      KAFKA_GROUP_ID: uniqueName('status-refused'),
      GONG_ACCESS_KEY: 'status-key',
      GONG_ACCESS_KEY_SECRET: 'not-the-secret',
    });
    const [okUrl, refusedUrl] = await Promise.all([bridges[0]!.url, refused.url]);
    await waitFor('the refused bridge to halt', () => /"event":"auth-failed"/.test(refused.output()), 60_000);
    const { code, report } = await status([okUrl, refusedUrl, 'http://127.0.0.1:1/metrics']);
    expect(code).toBe(1);
    expect(report.replicasSeen).toBe(2);
    expect(report.replicas.map((replica) => replica.up)).toEqual([true, true, false]);
    expect(report.replicas[2]?.error).toMatch(/ECONNREFUSED/);
    // Two replicas limiting locally each have their own share.
    expect(report.calls.allowedPerSecond).toBe(80);
    expect(report.halts).toEqual(
      expect.arrayContaining([
        { replica: refusedUrl, cause: expect.stringMatching(/^Gong refuses the credentials/) },
      ]),
    );
    expect(report.halts.filter((halt) => halt.replica === okUrl)).toEqual([]);
  });

  it('prints the same as a screen when piped', async () => {
    const url = await bridges[0]!.url;
    const run = await runCli(['status', '--interval', '0.5', url], undefined, {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^gong-bridge status at .*: 1 of 1 replica answered\n/);
    expect(run.stdout).toMatch(/^Calls +0\/s of 40\/s allowed \(0%\)$/m);
    expect(run.stdout).toMatch(/^Daily quota +[\d,]+ of 5,000 left/m);
    expect(run.stdout).toMatch(new RegExp(`^ {2}${topic}/0 +0$`, 'm'));
    expect(run.stdout).toMatch(/^ {2}GONG_INVALID +3$/m);
    expect(run.stdout).not.toContain('\u001b[');
  });
});
