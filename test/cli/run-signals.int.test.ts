import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { produceTo, spawnBridge, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

/**
 * `gong-bridge run` as a process with calls in flight (the sandbox answers after 1.5 s), stopped
 * the way `make demo` + Ctrl-C stops it: SIGINT from the terminal to the whole process group, then
 * the script's SIGTERM a moment later. That is one request to stop: the bridge must drain, commit
 * and log `gong-bridge stopped`. Before, the second signal made it exit 130 at once, mid-drain.
 */

const services = inject('services');
const kafka = testKafka();
const admin = kafka.admin();
const topic = uniqueName('run-signals');
let dropTopics: () => Promise<void> = async () => {};
let sandbox: RunningSandbox;

beforeAll(async () => {
  await admin.connect();
  dropTopics = await createTopics(admin, [topic, `${topic}.dlq`], 1);
  sandbox = await startSandbox({
    port: 0,
    accessKey: 'k',
    accessKeySecret: 's',
    rps: 0,
    daily: 0,
    faults: { latencyMs: 1_500 },
  });
  await produceTo(kafka, topic, 40);
});

afterAll(async () => {
  await sandbox.close();
  await dropTopics();
  await admin.disconnect();
});

describe('run stopped by a Ctrl-C and a wrapper SIGTERM', () => {
  it('drains, commits and logs gong-bridge stopped, exiting 0', async () => {
    const groupId = uniqueName('run-signals');
    const bridge = spawnBridge({
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      GONG_BASE_URL: sandbox.url,
      GONG_ACCESS_KEY: 'k',
      GONG_ACCESS_KEY_SECRET: 's',
      GONG_RATE_PER_SECOND: '8',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '20000',
    });
    try {
      // Calls are in flight once the sandbox has seen some and accepted fewer than it was sent.
      await waitFor('calls in flight', () => sandbox.stats().calls >= 5);
      bridge.child.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      bridge.child.kill('SIGTERM');
      expect(await bridge.exited, `${bridge.stdout()}\n${bridge.stderr()}`).toBe(0);
    } finally {
      await bridge.kill();
    }
    const stopped = bridge.logLines().find((line) => line.msg === 'gong-bridge stopped');
    expect(stopped?.stats?.inFlight, bridge.stdout()).toBe(0);
    expect(bridge.stderr()).toContain('SIGTERM while already stopping: the same request');
    // Everything the sandbox accepted was committed: the group's offset covers at least as many
    // records as Gong stored (each record is one event), so nothing delivered is left to resend.
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = Number(offsets[0]?.partitions[0]?.offset ?? '-1');
    expect(committed).toBeGreaterThanOrEqual(sandbox.stats().accepted);
  });
});
