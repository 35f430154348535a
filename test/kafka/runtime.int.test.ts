import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import type { ProducedSample } from '../../src/kafka/sample-producer.ts';
import {
  allCommitted,
  bridgeEnv,
  header,
  positions,
  produceTo,
  readAll,
  startBridge,
  waitFor,
  type TestBridge,
} from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

/**
 * Acceptance of the consumer runtime (issue 5) against real Kafka, Apicurio and the Gong
 * sandbox. Each test has its own topics, group and sandbox.
 */
describe('gong-bridge run', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    await admin.connect();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  async function setup(partitions = 3) {
    const topic = uniqueName('interactions');
    const dlqTopic = `${topic}.dlq`;
    const groupId = uniqueName('bridge');
    const drop = await createTopics(admin, [topic], partitions);
    cleanups.push(async () => {
      await drop();
      await admin.deleteTopics({ topics: [dlqTopic] }).catch(() => {});
    });
    const sandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 0,
      daily: 0,
    });
    cleanups.push(() => sandbox.close());
    const env = bridgeEnv({ KAFKA_TOPICS: topic, KAFKA_GROUP_ID: groupId, GONG_BASE_URL: sandbox.url });
    return { topic, dlqTopic, groupId, sandbox, env };
  }

  async function run(env: Record<string, string>): Promise<TestBridge> {
    const bridge = await startBridge(env);
    cleanups.push(() => bridge.stop());
    return bridge;
  }

  function expectAllValidAcceptedOnce(sandbox: RunningSandbox, manifest: readonly ProducedSample[]) {
    const valid = manifest.filter((entry) => entry.kind === 'valid');
    const missing = valid.filter((entry) => sandbox.event(entry.eventId!) === undefined);
    expect(missing.map((entry) => entry.eventId)).toEqual([]);
    expect(sandbox.stats().accepted).toBe(valid.length);
  }

  it('acceptance 1: 1,000 events with 5% Gong-invalid and 1% undecodable', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup();
    const manifest = await produceTo(kafka, topic, 1_000, { invalidRatio: 0.05, undecodableRatio: 0.01 });
    const bridge = await run(env);
    await waitFor(
      'committed offsets to reach the end offsets',
      () => allCommitted(admin, groupId, topic),
      90_000,
    );

    expectAllValidAcceptedOnce(sandbox, manifest);
    // Accepted once: no event needed a second accepted call.
    expect(sandbox.stats().duplicates).toBe(0);

    const bad = manifest.filter((entry) => entry.kind !== 'valid');
    expect(bad).toHaveLength(60);
    const dlq = await readAll(kafka, dlqTopic);
    expect(dlq).toHaveLength(bad.length);
    const byKey = new Map(dlq.map((record) => [record.key, record]));
    for (const entry of bad) {
      const record = byKey.get(entry.key);
      expect(record, entry.key).toBeDefined();
      expect(header(record!.headers, 'gong-bridge.reason'), entry.key).toBe(entry.expectedReason);
      expect(header(record!.headers, 'gong-bridge.source-topic')).toBe(topic);
      // The original headers travel with the dead letter.
      expect(header(record!.headers, 'sample-kind')).toBe(entry.kind);
      expect(header(record!.headers, 'gong-bridge.bridge-version')).toMatch(/^\d+\.\d+\.\d+/);
    }
    const invalid = dlq.find((record) => header(record.headers, 'gong-bridge.reason') === 'GONG_INVALID')!;
    expect(JSON.parse(header(invalid.headers, 'gong-bridge.errors')!)).toEqual(
      expect.arrayContaining([expect.any(String)]),
    );
    for (const entry of await positions(admin, groupId, topic)) expect(entry.committed).toBe(entry.end);
    expect(bridge.graph.runtime.readiness().ready).toBe(true);
  });
});
