import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import type { ProducedSample } from '../../src/kafka/sample-producer.ts';
import { produceTraffic, type ProducedRecord } from '../chaos/harness.ts';
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
import { createTopics, kafkaTestSuite, uniqueName } from '../helpers/kafka.ts';

/**
 * Acceptance of the consumer runtime (issue 5) against real Kafka, Apicurio and the Gong
 * sandbox. Each test has its own topics, group and sandbox.
 */
describe('gong-bridge run', () => {
  const { kafka, admin, cleanups } = kafkaTestSuite();

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

  it('dead-letters a record whose headers push it past MAX_RECORD_BYTES, though its value is small', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup(1);
    const [sample] = await produceTo(kafka, topic, 1);
    const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(newestSchema().schema) },
      { subject: `${topic}-value` },
    );
    const event = makeSampleEvent(7, () => 0.5);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        {
          key: event.eventId,
          value: await registry.encode(id, event),
          // Small value, large headers: the dead letter copies headers too, so they count.
          headers: { 'trace-baggage': 'x'.repeat(6_000) },
        },
      ],
    });
    await producer.disconnect();
    await run({ ...env, MAX_RECORD_BYTES: '4096' });
    await waitFor(
      'committed offsets to reach the end offsets',
      () => allCommitted(admin, groupId, topic),
      60_000,
    );
    expect(sandbox.event(sample!.eventId!)).toBeDefined();
    expect(sandbox.event(event.eventId)).toBeUndefined();
    const dlq = await readAll(kafka, dlqTopic);
    expect(dlq.map((record) => [record.key, header(record.headers, 'gong-bridge.reason')])).toEqual([
      [event.eventId, 'RECORD_TOO_LARGE'],
    ]);
  });

  /** Source records by partition and offset, with their keys (eventIds), read back from Kafka. */
  async function sourceIndex(topic: string) {
    const records = await readAll(kafka, topic);
    return records.map((record) => ({
      partition: record.partition,
      offset: BigInt(record.offset),
      key: record.key!,
    }));
  }

  /** Every record below a committed offset must be settled: here, accepted by the sandbox. */
  async function expectNothingCommittedPastUndelivered(
    groupId: string,
    topic: string,
    index: { partition: number; offset: bigint; key: string }[],
    sandbox: RunningSandbox,
  ) {
    for (const entry of await positions(admin, groupId, topic)) {
      const passed = index.filter(
        (record) => record.partition === entry.partition && record.offset < entry.committed,
      );
      const undelivered = passed.filter((record) => sandbox.event(record.key) === undefined);
      expect(undelivered.map((record) => `${record.partition}/${record.offset}`)).toEqual([]);
    }
  }

  it('acceptance 3: a 30 s Gong outage (503) commits nothing undelivered, then delivers everything', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup();
    const manifest = await produceTo(kafka, topic, 200);
    const index = await sourceIndex(topic);
    sandbox.setFaults({ outageMs: 30_000 });
    const outageEnds = Date.now() + 30_000;
    await run(env);
    let checks = 0;
    while (Date.now() < outageEnds - 1_500) {
      // Nothing can have been accepted while the outage lasts.
      expect(sandbox.stats().accepted).toBe(0);
      await expectNothingCommittedPastUndelivered(groupId, topic, index, sandbox);
      checks += 1;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect(checks).toBeGreaterThan(10);
    await waitFor(
      'everything committed after the outage',
      async () => {
        await expectNothingCommittedPastUndelivered(groupId, topic, index, sandbox);
        return allCommitted(admin, groupId, topic);
      },
      60_000,
      250,
    );
    expectAllValidAcceptedOnce(sandbox, manifest);
    expect(await readAll(kafka, dlqTopic).catch(() => [])).toEqual([]);
  });

  /** A TCP proxy in front of the shared registry, so a test can take "the registry" down alone. */
  async function registryProxy() {
    const target = new URL(inject('services').schemaRegistryUrl);
    const sockets = new Set<Socket>();
    let server: Server | undefined;
    let port = 0;
    const up = async () => {
      server = createServer((client) => {
        const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    };
    const down = async () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) =>
        server === undefined ? resolve() : server.close(() => resolve()),
      );
    };
    await up();
    cleanups.push(down);
    return { url: `http://127.0.0.1:${port}${target.pathname}`, up, down };
  }

  it('acceptance 5: the registry down for 10 s dead-letters nothing and the stream resumes', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup();
    const manifest = await produceTo(kafka, topic, 300);
    const proxy = await registryProxy();
    await proxy.down();
    const bridge = await run({ ...env, SCHEMA_REGISTRY_URL: proxy.url });
    let unavailable = 0;
    bridge.graph.runtime.events.on('registry-unavailable', () => (unavailable += 1));
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect(unavailable).toBeGreaterThan(0);
    expect(sandbox.stats().accepted).toBe(0);
    expect(bridge.graph.runtime.stats().deadLettered).toBe(0);
    await proxy.up();
    await waitFor(
      'everything committed after the registry returned',
      () => allCommitted(admin, groupId, topic),
      60_000,
    );
    expectAllValidAcceptedOnce(sandbox, manifest);
    expect(bridge.graph.runtime.stats().deadLettered).toBe(0);
    expect(await readAll(kafka, dlqTopic).catch(() => [])).toEqual([]);
  });

  it('acceptance 6: wrong credentials make no progress and report unready; the right ones deliver everything', async () => {
    const { topic, groupId, sandbox, env } = await setup();
    const manifest = await produceTo(kafka, topic, 200);
    const wrong = await run({ ...env, GONG_ACCESS_KEY_SECRET: 'wrong-secret' });
    let halted = 0;
    wrong.graph.runtime.events.on('halted', () => (halted += 1));
    await waitFor('the auth halt', () => wrong.graph.runtime.readiness().authOk === false, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(halted).toBeGreaterThan(0);
    expect(wrong.graph.runtime.readiness()).toMatchObject({ ready: false, authOk: false, joined: true });
    expect(sandbox.stats().accepted).toBe(0);
    for (const entry of await positions(admin, groupId, topic)) expect(entry.committed).toBe(-1n);
    await wrong.stop();

    const right = await run(env);
    await waitFor(
      'everything committed with the right credentials',
      () => allCommitted(admin, groupId, topic),
      60_000,
    );
    expectAllValidAcceptedOnce(sandbox, manifest);
    expect(right.graph.runtime.readiness().ready).toBe(true);
  });

  it('acceptance 4: a second instance joins mid-run and leaves again; nothing is lost', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup(4);
    sandbox.setFaults({ latencyMs: 20 });
    const manifest = await produceTo(kafka, topic, 800);
    const slow = { ...env, GONG_RATE_PER_SECOND: '100' };
    const first = await run(slow);
    const rebalances: string[] = [];
    first.graph.runtime.events.on('rebalance', (event) => rebalances.push(event.phase));
    await waitFor('some progress', () => sandbox.stats().accepted > 100, 30_000);
    const second = await run(slow);
    await waitFor('the second instance to get work', () => second.graph.runtime.stats().consumed > 0, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await second.stop();
    await waitFor('everything committed', () => allCommitted(admin, groupId, topic), 90_000);
    expect(rebalances).toContain('revoking');
    expect(rebalances).toContain('revoked');
    expectAllValidAcceptedOnce(sandbox, manifest);
    expect(await readAll(kafka, dlqTopic).catch(() => [])).toEqual([]);
  });

  it('refuses to start on an input topic that does not exist, without creating its DLQ', async () => {
    const topic = uniqueName('missing');
    const failure = await startBridge(
      bridgeEnv({ KAFKA_TOPICS: topic, KAFKA_GROUP_ID: uniqueName('bridge') }),
    ).then(
      async (bridge) => {
        await bridge.stop();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'CONFIG_INVALID', context: { variable: 'KAFKA_TOPICS' } });
    expect(await admin.listTopics()).not.toContain(`${topic}.dlq`);
  });

  it('a graceful stop during a Gong outage drains within SHUTDOWN_TIMEOUT_MS and commits nothing undelivered', async () => {
    const { topic, groupId, sandbox, env } = await setup();
    await produceTo(kafka, topic, 100);
    const index = await sourceIndex(topic);
    const bridge = await run({ ...env, SHUTDOWN_TIMEOUT_MS: '2000', GONG_RATE_PER_SECOND: '20' });
    await waitFor('some deliveries', () => sandbox.stats().accepted >= 30, 30_000, 20);
    sandbox.setFaults({ outageMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(bridge.graph.runtime.stats().inFlight).toBeGreaterThan(0);
    const started = Date.now();
    await bridge.stop();
    // The drain budget, plus the one call that may be on the wire when it runs out.
    expect(Date.now() - started).toBeLessThan(2_000 + 3_000);
    await expectNothingCommittedPastUndelivered(groupId, topic, index, sandbox);
    const committed = (await positions(admin, groupId, topic)).reduce(
      (sum, entry) => sum + Math.max(0, Number(entry.committed)),
      0,
    );
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThanOrEqual(sandbox.stats().accepted);
  });

  /** Traffic with partition and offset of every record, and the product's commit settings. */
  async function setupWithTraffic(events: number) {
    const context = await setup();
    const records = await produceTraffic(kafka, context.topic, events, 0);
    const env = { ...context.env };
    // The product's commit settings, not the tests' fast ones: they are what is measured.
    delete env.COMMIT_INTERVAL_MS;
    return { ...context, records, env };
  }

  /** Records Gong stored that no committed offset covers yet: what a crash now would send again. */
  async function storedNotCommitted(
    sandbox: RunningSandbox,
    records: readonly ProducedRecord[],
    groupId: string,
    topic: string,
  ): Promise<number> {
    // Gong first, then the offsets: a commit in between only lowers the count.
    const stored = records.filter((record) => sandbox.event(record.eventId!) !== undefined);
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map(
      (offsets?.partitions ?? []).map((entry) => [entry.partition, BigInt(entry.offset)] as const),
    );
    return stored.filter((record) => record.offset >= (committed.get(record.partition) ?? -1n)).length;
  }

  it('settled records wait for their commit no longer than COMMIT_MAX_PENDING per partition allows', async () => {
    const { topic, groupId, sandbox, records, env } = await setupWithTraffic(900);
    await run({ ...env, GONG_RATE_PER_SECOND: '45' });
    let worst = 0;
    let samples = 0;
    while (sandbox.stats().accepted < records.length - 45) {
      worst = Math.max(worst, await storedNotCommitted(sandbox, records, groupId, topic));
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitFor('everything committed', () => allCommitted(admin, groupId, topic), 60_000);
    console.log(`stored but not committed: worst ${worst} in ${samples} samples (45 calls/s, 3 partitions)`);
    expect(samples).toBeGreaterThan(50);
    // 20 settled per partition (COMMIT_MAX_PENDING) plus the 32 records that can be in flight
    // (MAX_IN_FLIGHT). With commits every 5 s at 45 calls/s, up to 225 waited.
    expect(worst).toBeLessThanOrEqual(3 * 20 + 32);
  });

  it('a backlog on every partition is worked on all of them at once, within MAX_BUFFERED', async () => {
    const { sandbox, records, env } = await setupWithTraffic(900);
    const bridge = await run({ ...env, GONG_RATE_PER_SECOND: '30', MAX_BUFFERED: '30' });
    let mostBuffered = 0;
    const sampler = setInterval(() => {
      mostBuffered = Math.max(mostBuffered, bridge.graph.runtime.stats().buffered);
    }, 10);
    cleanups.push(async () => clearInterval(sampler));
    await waitFor('the first 60 deliveries', () => sandbox.stats().accepted >= 60, 60_000, 20);
    const partitionOf = new Map(records.map((record) => [record.eventId!, record.partition]));
    const first = sandbox
      .calls(0, 60)
      .filter((call) => call.status === 200)
      .map((call) => partitionOf.get(call.eventId!));
    const perPartition = [0, 1, 2].map((partition) => first.filter((entry) => entry === partition).length);
    console.log(
      `first ${first.length} deliveries per partition: ${perPartition.join('/')}; most buffered ${mostBuffered}`,
    );
    // A fair share would be 20 each; one partition's fetch filling the buffer gave 60/0/0.
    for (const count of perPartition) expect(count).toBeGreaterThanOrEqual(10);
    expect(mostBuffered).toBeLessThanOrEqual(30);
  });
});
