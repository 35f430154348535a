import { logLevel, type Consumer } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.ts';
import { produceTraffic } from '../chaos/harness.ts';
import { allCommitted, bridgeEnv, startBridge, waitFor, type TestBridge } from '../helpers/bridge.ts';
import { createTopics, kafkaTestSuite, uniqueName } from '../helpers/kafka.ts';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';

/**
 * Issue 13 §7 against the real broker: what a replica does with partitions it is losing. From
 * the moment it knows of the rebalance it starts no call for them, it never commits a partition
 * the group gave to another member, and what it keeps about settled records never hides a
 * record of a partition that comes back with its offsets reused.
 */
describe('rebalances, against the real broker', () => {
  const { kafka, admin, cleanups } = kafkaTestSuite();

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** What one replica did, as seen from its own events. */
  function watch(bridge: TestBridge) {
    const revokes: { from: number; to?: number; stop?: boolean }[] = [];
    const assignments: { at: number; partitions: Set<number> }[] = [];
    const foreignCommits: string[] = [];
    const requestIds = new Set<string>();
    const { runtime, engine } = bridge.graph;
    runtime.events.on('rebalance', (event) => {
      if (event.phase === 'revoking') revokes.push({ from: Date.now() });
      if (event.phase === 'revoked') revokes.at(-1)!.to = Date.now();
      if (event.phase === 'assigned') {
        assignments.push({
          at: Date.now(),
          partitions: new Set(event.partitions.map((entry) => entry.partition)),
        });
      }
    });
    runtime.events.on('committed', (event) => {
      const current = assignments.at(-1);
      if (current !== undefined && !current.partitions.has(event.partition)) {
        foreignCommits.push(`partition ${event.partition} @ ${event.offset}`);
      }
    });
    // A stop ends what this replica holds, as a revoke does.
    runtime.events.on('ready-state', (state) => {
      if (state.shuttingDown && !revokes.some((revoke) => revoke.stop === true)) {
        revokes.push({ from: Date.now(), stop: true });
      }
    });
    engine.events.on('call', (event) => {
      if (event.requestId !== undefined) requestIds.add(event.requestId);
    });
    return { revokes, assignments, foreignCommits, requestIds };
  }

  it('a replica losing partitions starts no call for them once it knows, and never commits them', async () => {
    const topic = uniqueName('handback');
    const groupId = uniqueName('handback-bridge');
    cleanups.push(await createTopics(admin, [topic, `${topic}.dlq`], 4));
    // Every answer 300 ms late, 10 calls/s: plenty of records wait in the limiter when a
    // rebalance comes, and every partition is paused (MAX_BUFFERED), so kafkajs' own heartbeat
    // learns of the rebalance and rejoins while the revoke runs.
    const sandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 0,
      daily: 0,
      faults: { latencyMs: 300 },
    });
    cleanups.push(() => sandbox.close());
    const records = await produceTraffic(kafka, topic, 600, 0);
    const env = bridgeEnv({
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      GONG_BASE_URL: sandbox.url,
      GONG_RATE_PER_SECOND: '10',
      MAX_BUFFERED: '100',
    });
    const start = async () => {
      const bridge = await startBridge(env);
      cleanups.push(() => bridge.stop());
      return { bridge, seen: watch(bridge) };
    };
    const first = await start();
    await waitFor('some deliveries', () => sandbox.stats().accepted >= 20, 30_000);
    // A second replica joins, leaves, and comes back: partitions move away, back, away again.
    const second = await start();
    await waitFor(
      'the second replica to get work',
      () => second.bridge.graph.runtime.stats().consumed > 0,
      30_000,
    );
    await sleep(1_500);
    await second.bridge.stop();
    await sleep(1_500);
    const returning = await start();
    await waitFor(
      'the returning replica to get work',
      () => returning.bridge.graph.runtime.stats().consumed > 0,
      30_000,
    );
    await sleep(1_500);
    await returning.bridge.stop();
    await waitFor('everything committed', () => allCommitted(admin, groupId, topic), 120_000);

    const calls = sandbox.calls();
    const partitionOf = new Map(records.map((record) => [record.eventId!, record.partition]));
    const replicas = { first, second, returning };
    const late: string[] = [];
    const overlaps: string[] = [];
    for (const [name, { seen }] of Object.entries(replicas)) {
      const own = calls.filter((call) => seen.requestIds.has(call.requestId));
      // A call sent just before the revoke was known may arrive a little after it.
      for (const revoke of seen.revokes) {
        const after = own.filter(
          (call) => call.at > revoke.from + 1_000 && call.at <= (revoke.to ?? Infinity),
        );
        if (after.length > 0) {
          late.push(
            `${name}: ${after.length} calls started ${after.at(-1)!.at - revoke.from} ms into its revoke`,
          );
        }
      }
      // Calls for a partition that another replica had already been assigned.
      for (const [otherName, other] of Object.entries(replicas)) {
        if (otherName === name) continue;
        for (const assignment of other.seen.assignments) {
          const overlapping = own.filter(
            (call) =>
              call.at > assignment.at + 200 &&
              assignment.partitions.has(partitionOf.get(call.eventId ?? '') ?? -1) &&
              // ...while that replica still held it.
              other.seen.revokes.every((revoke) => revoke.from < assignment.at || call.at < revoke.from),
          );
          if (overlapping.length > 0) {
            overlaps.push(
              `${name}: ${overlapping.length} calls for partitions ${otherName} was assigned, up to ` +
                `${Math.max(...overlapping.map((call) => call.at - assignment.at))} ms after`,
            );
          }
        }
      }
    }
    const foreign = Object.entries(replicas).flatMap(([name, { seen }]) =>
      seen.foreignCommits.map((entry) => `${name}: ${entry}`),
    );
    console.log(
      `handback: late calls [${late.join('; ')}], overlaps [${overlaps.join('; ')}], ` +
        `commits for partitions not owned [${foreign.join('; ')}], 409s ${sandbox.stats().duplicates}, revokes ${Object.entries(
          replicas,
        )
          .map(
            ([name, { seen }]) =>
              `${name} ${seen.revokes
                .filter((revoke) => revoke.stop !== true)
                .map((revoke) => (revoke.to ?? NaN) - revoke.from)
                .join('/')} ms`,
          )
          .join(', ')}`,
    );
    expect(late).toEqual([]);
    expect(overlaps).toEqual([]);
    expect(foreign).toEqual([]);
    // Nothing lost, nothing stored twice.
    expect(sandbox.stats().accepted).toBe(records.length);
  });

  it('a partition that comes back with its offsets reused (topic recreated) has every record sent (stale mark)', async () => {
    const recreated = uniqueName('stale-t');
    const other = uniqueName('stale-u');
    const groupId = uniqueName('stale-bridge');
    cleanups.push(await createTopics(admin, [recreated, other, `${recreated}.dlq`], 1));
    const sandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 0,
      daily: 0,
    });
    cleanups.push(() => sandbox.close());
    const before = await produceTraffic(kafka, recreated, 20, 0);
    const bridge = await startBridge(
      bridgeEnv({
        KAFKA_TOPICS: `${recreated},${other}`,
        KAFKA_GROUP_ID: groupId,
        // Sorts after the helper below: kafkajs' round-robin assigner gives the helper the
        // first topic's partition, and this bridge the other's.
        KAFKA_CLIENT_ID: 'zz-bridge',
        GONG_BASE_URL: sandbox.url,
        // Heartbeats every 600 ms: the rebalance is noticed while the slow call below is on the wire.
        KAFKA_SESSION_TIMEOUT_MS: '6000',
      }),
    );
    cleanups.push(() => bridge.stop());
    const order: string[] = [];
    bridge.graph.runtime.events.on('rebalance', (event) =>
      order.push(
        event.phase === 'assigned'
          ? `assigned ${event.partitions.map((entry) => (entry.topic === other ? 'u' : 't')).join('')}`
          : event.phase,
      ),
    );
    await waitFor(
      'the first records delivered and committed',
      () => allCommitted(admin, groupId, recreated),
      30_000,
    );
    expect(before.every((record) => sandbox.event(record.eventId!) !== undefined)).toBe(true);

    // A call on the wire (4 s) when the group rebalances: the revoke waits for it (up to 3 s,
    // half the session) while kafkajs rejoins, so the new assignment arrives before it ends.
    sandbox.setFaults({ latencyMs: 4_000 });
    const [slow] = await produceTraffic(kafka, other, 1, 0);
    await waitFor(
      'the slow call to reach Gong',
      () => sandbox.calls().some((call) => call.eventId === slow!.eventId),
      20_000,
      20,
    );
    const helper = await joinHelper(groupId, [recreated, other]);
    cleanups.push(() => helper.disconnect());
    await waitFor(
      'the rebalance to end',
      () => order.includes('revoked') && order.some((entry) => entry.startsWith('assigned u')),
      30_000,
    );
    sandbox.setFaults({ latencyMs: 0 });
    // The race of issue 13 §7: the assignment came while the revoke ran.
    expect(order.slice(-3)).toEqual(['revoking', 'assigned u', 'revoked']);

    // While the helper holds it, the first topic is deleted and created again: its offsets start
    // over at 0, with other records.
    await admin.deleteTopics({ topics: [recreated] });
    await waitFor(
      'the topic to be gone',
      async () => !(await admin.listTopics()).includes(recreated),
      30_000,
      200,
    );
    await waitFor(
      'the topic to be created again',
      () =>
        admin
          .createTopics({
            waitForLeaders: true,
            topics: [{ topic: recreated, numPartitions: 1, replicationFactor: 1 }],
          })
          .then(() => true)
          .catch(() => false),
      30_000,
      500,
    );
    const after = await produceTraffic(kafka, recreated, 10, 0);
    // The helper leaves: the partition comes back to the bridge.
    await helper.disconnect();
    const missing = () => after.filter((record) => sandbox.event(record.eventId!) === undefined);
    await waitFor(
      'the recreated topic to be committed',
      () => allCommitted(admin, groupId, recreated),
      30_000,
    ).catch(() => {});
    await waitFor('every new record delivered', () => missing().length === 0, 15_000).catch(() => {});
    expect(missing().map((record) => `${record.partition}@${record.offset}`)).toEqual([]);
  });

  /** A plain kafkajs member of the group that fetches nothing; leaves on disconnect. */
  async function joinHelper(groupId: string, topics: string[]): Promise<Consumer> {
    const helperKafka = kafkaClient({
      clientId: 'aa-helper',
      brokers: inject('services').kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const consumer = helperKafka.consumer({ groupId, sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // Fetching nothing, so the topic's deletion costs it no errors.
      consumer.pause(topics.map((topic) => ({ topic })));
      joined = true;
    });
    await consumer.run({ autoCommit: false, eachMessage: async () => {} });
    await waitFor('the helper to join', () => joined, 30_000);
    return consumer;
  }
});
