import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { bridgeEnv, produceTo, startBridge, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/**
 * Issue 14 §3: without Redis the daily budget lives in the process, and a restart used to start a
 * fresh one. The bridge now keeps each process's spend in KAFKA_QUOTA_TOPIC (compacted) and a new
 * process reads it back before its first call. Real broker, real registry, the Gong sandbox.
 */
describe('daily budget across restarts, kept in Kafka', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  let sandbox: RunningSandbox;
  const dropTopics: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    await admin.connect();
    sandbox = await startSandbox({ accessKey: 'test-key', accessKeySecret: 'test-secret', rps: 0, daily: 0 });
  });
  afterAll(async () => {
    await sandbox?.close();
    for (const drop of dropTopics) await drop();
    await admin.disconnect();
  });

  async function setUp(events: number) {
    const topic = uniqueName('ledger');
    const quotaTopic = uniqueName('quota');
    dropTopics.push(await createTopics(admin, [topic], 2), async () => {
      await admin.deleteTopics({ topics: [`${topic}.dlq`, quotaTopic] }).catch(() => {});
    });
    sandbox.reset();
    await produceTo(kafka, topic, events);
    const env = bridgeEnv({
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: uniqueName('ledger-bridge'),
      KAFKA_QUOTA_TOPIC: quotaTopic,
      GONG_BASE_URL: sandbox.url,
      GONG_RATE_PER_SECOND: '10',
      GONG_DAILY_LIMIT: '50',
    });
    return { topic, env };
  }

  it('a bridge stopped and started again remembers what it spent today, in both daily windows', async () => {
    const { env } = await setUp(12);
    const first = await startBridge(env);
    await waitFor('12 events at Gong', () => sandbox.stats().accepted === 12, 60_000);
    await first.stop();
    const calls = sandbox.calls().length;
    expect(calls).toBe(12);

    const rolling = await startBridge(env);
    const afterRestart = rolling.graph.limiter.snapshot().dailyRemaining;
    await rolling.stop();
    expect(afterRestart).toBe(50 - calls);

    // The same calls seen by a utc-day window (unless the run straddled UTC midnight).
    const sinceMidnight = Date.now() % 86_400_000;
    if (sinceMidnight > 120_000) {
      const utc = await startBridge({ ...env, GONG_DAILY_WINDOW: 'utc-day' });
      const utcRemaining = utc.graph.limiter.snapshot().dailyRemaining;
      await utc.stop();
      expect(utcRemaining).toBe(50 - calls);
    }
  });

  it('a bridge killed with SIGKILL loses no more than the calls since its last write', async () => {
    const { env } = await setUp(8);
    const child = spawn(process.execPath, [main, 'run'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, HTTP_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor('8 events at Gong', () => sandbox.stats().accepted === 8, 60_000);
      // Longer than GONG_DAILY_LEDGER_INTERVAL_MS (1 s) after the last call: it has been written.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const calls = sandbox.calls().length;
    expect(calls, output).toBe(8);
    const restarted = await startBridge(env);
    const remaining = restarted.graph.limiter.snapshot().dailyRemaining;
    await restarted.stop();
    expect(remaining).toBe(50 - calls);
  });
});
