import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { logLevel } from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runDoctor } from '../../src/doctor/checks.ts';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { produceSamples } from '../../src/kafka/sample-producer.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { spawnBridge, waitFor } from '../helpers/bridge.ts';
import { uniqueName } from '../helpers/kafka.ts';
import { startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.ts';

/**
 * A broker that has just started has no group coordinator yet: the first FindCoordinator creates
 * __consumer_offsets (GROUP_COORDINATOR_NOT_AVAILABLE) and it then loads. That is a normal state
 * for a moment, so neither `doctor` (which reported it as an ACL problem) nor `run` (whose
 * consumer crashed and restarted with "The coordinator is loading") may treat it as a fault. Each
 * case gets a broker of its own, fresh, because the first FindCoordinator changes that state.
 */

const services = inject('services');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshBroker(topic: string): Promise<{ broker: SecureKafka; brokers: string }> {
  // Kafka's default partition count for __consumer_offsets, so it takes as long to come up as on a
  // real broker (the helper's default of 1 is ready almost at once).
  const broker = await startSecureKafka({ offsetsTopicPartitions: 50 });
  cleanups.push(() => broker.stop());
  const brokers = `127.0.0.1:${broker.ports.plaintext}`;
  // Creating a topic asks for no coordinator, so the group side is still untouched.
  const admin = kafkaClient({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  return { broker, brokers };
}

async function sandbox(): Promise<RunningSandbox> {
  const started = await startSandbox({ port: 0, accessKey: 'k', accessKeySecret: 's', rps: 0, daily: 0 });
  cleanups.push(() => started.close());
  return started;
}

describe('a group coordinator that is still starting', () => {
  it('doctor waits for it and passes the group check, on its first look at a fresh broker', async () => {
    const topic = uniqueName('coordinator-doctor');
    const { brokers } = await freshBroker(topic);
    const gong = await sandbox();
    const results = await runDoctor({
      env: {
        KAFKA_BROKERS: brokers,
        KAFKA_TOPICS: topic,
        KAFKA_GROUP_ID: uniqueName('coordinator-doctor'),
        SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
        GONG_BASE_URL: gong.url,
        GONG_ACCESS_KEY: 'k',
        GONG_ACCESS_KEY_SECRET: 's',
      },
      timeoutMs: 10_000,
      gongAuth: false,
      createDlq: false,
    });
    expect(results.find((result) => result.id === 'group')).toMatchObject({ status: 'ok' });
  });

  it('run waits for it quietly, then delivers', async () => {
    const topic = uniqueName('coordinator-run');
    const { brokers } = await freshBroker(topic);
    const gong = await sandbox();
    const bridge = spawnBridge({
      KAFKA_BROKERS: brokers,
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: uniqueName('coordinator-run'),
      SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      GONG_BASE_URL: gong.url,
      GONG_ACCESS_KEY: 'k',
      GONG_ACCESS_KEY_SECRET: 's',
      GONG_RATE_PER_SECOND: '50',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      COMMIT_INTERVAL_MS: '200',
    });
    cleanups.push(() => bridge.kill());
    await waitFor('the bridge to start', () => bridge.stdout().includes('"gong-bridge running"'));

    const producer = kafkaClient({ brokers: [brokers], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await produceSamples({
      producer,
      registry: new SchemaRegistry({ host: services.schemaRegistryUrl }),
      topic,
      count: 5,
    });
    await producer.disconnect();
    await waitFor('five deliveries', () => gong.stats().accepted === 5);

    bridge.child.kill('SIGTERM');
    const output = `${bridge.stdout()}\n${bridge.stderr()}`;
    expect(await bridge.exited, output).toBe(0);
    const lines = bridge.logLines();
    expect(lines.some((line) => line.msg === 'gong-bridge stopped')).toBe(true);
    // What a starting coordinator used to print: kafkajs' "The coordinator is loading" and
    // "Restarting the consumer", and the lag poll's "not the correct coordinator" warning. (The
    // dead-letter producer is not idempotent, so no InitProducerId or EoS line either.)
    const loud = lines.filter((line) => ['warn', 'error', 'fatal'].includes(line.level));
    const coordinatorNoise = /coordinator|crash|restarting the consumer|lag poll/i;
    expect(
      loud.filter((line) => coordinatorNoise.test(JSON.stringify(line))).map((line) => line.msg),
    ).toEqual([]);
  });
});
