import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.ts';
import {
  allCommitted,
  bridgeEnv,
  header,
  produceTo,
  readAll,
  startBridge,
  waitFor,
  type TestBridge,
} from '../helpers/bridge.ts';
import { createTopics, kafkaTestSuite, uniqueName } from '../helpers/kafka.ts';

/**
 * Issue 13 §2: dead letters that can never be written. A dead letter the DLQ topic refuses for
 * its size, or a DLQ topic that refuses every write, used to be retried for ever: the partition's
 * commit stuck at that record, readiness stayed true, and nothing said why.
 */
describe('dead letters the DLQ topic cannot take', () => {
  const { kafka, admin, cleanups } = kafkaTestSuite();

  async function setup() {
    const topic = uniqueName('oversize');
    const dlqTopic = `${topic}.dlq`;
    const groupId = uniqueName('bridge');
    // Default topic settings: max.message.bytes 1,048,588, as most clusters have it.
    const drop = await createTopics(admin, [topic], 1);
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

  /**
   * The record: 1,048,400 bytes, under MAX_RECORD_BYTES (1 MiB) and accepted by a default
   * topic, random so compression cannot shrink it, and not Confluent-framed so it is poison.
   * Its dead letter adds about 500 bytes of headers: more than a default topic's 1,048,588.
   */
  async function produceOversized(topic: string): Promise<void> {
    const value = randomBytes(1_048_400);
    value[0] = 0x7b;
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: 'oversized', value }] });
    } finally {
      await producer.disconnect();
    }
  }

  it('the DLQ topic the bridge creates takes the dead letter of a 1,048,400-byte record whole', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup();
    await produceOversized(topic);
    const after = await produceTo(kafka, topic, 3);
    await run(env);
    await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000);
    for (const sample of after) expect(sandbox.event(sample.eventId!)).toBeDefined();
    const letters = await readAll(kafka, dlqTopic);
    expect(letters.map((letter) => [letter.key, header(letter.headers, 'gong-bridge.reason')])).toEqual([
      ['oversized', 'NOT_CONFLUENT_FRAMED'],
    ]);
    expect(letters[0]!.value?.length).toBe(1_048_400);
    const configs = await admin.describeConfigs({
      resources: [{ type: 2, name: dlqTopic, configNames: ['max.message.bytes', 'compression.type'] }],
      includeSynonyms: false,
    });
    const entries = Object.fromEntries(
      configs.resources[0]!.configEntries.map((entry) => [entry.configName, entry.configValue]),
    );
    expect(Number(entries['max.message.bytes'])).toBeGreaterThan(1_048_576 + 8_192);
    expect(entries['compression.type']).toBe('gzip');
  });

  it('writes a reference letter when an existing DLQ topic is too small, and the partition moves on', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup();
    // A DLQ topic made by someone else, with the broker's default limit.
    await createTopics(admin, [dlqTopic], 1);
    await produceOversized(topic);
    const after = await produceTo(kafka, topic, 3);
    const bridge = await run(env);
    const reasons: string[] = [];
    bridge.graph.runtime.events.on('dead-lettered', (event) => reasons.push(event.reason));
    await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000);
    for (const sample of after) expect(sandbox.event(sample.eventId!)).toBeDefined();
    expect(reasons).toEqual(['DEAD_LETTER_TOO_LARGE']);
    const letters = await readAll(kafka, dlqTopic);
    expect(letters).toHaveLength(1);
    const [reference] = letters;
    expect(reference!.key).toBe('oversized');
    expect(reference!.value).toBeNull();
    expect({
      reason: header(reference!.headers, 'gong-bridge.reason'),
      original: header(reference!.headers, 'gong-bridge.original-reason'),
      valueBytes: header(reference!.headers, 'gong-bridge.original-value-bytes'),
      where: `${header(reference!.headers, 'gong-bridge.source-topic')}/${header(reference!.headers, 'gong-bridge.source-partition')}/${header(reference!.headers, 'gong-bridge.source-offset')}`,
    }).toEqual({
      reason: 'DEAD_LETTER_TOO_LARGE',
      original: 'NOT_CONFLUENT_FRAMED',
      valueBytes: '1048400',
      where: `${topic}/0/0`,
    });
  });

  it('halts while the DLQ topic is missing (pauses, unready, probes without spinning), and resumes once it is back', async () => {
    const { topic, dlqTopic, groupId, sandbox, env } = await setup();
    const bridge = await run(env);
    await admin.deleteTopics({ topics: [dlqTopic] });
    await waitFor('the DLQ topic gone', async () => !(await admin.listTopics()).includes(dlqTopic), 30_000);
    const seen: string[] = [];
    const failures: string[] = [];
    const events = bridge.graph.runtime.events;
    events.on('halted', (event) => seen.push(`halted ${event.reason}`));
    events.on('unhalted', (event) => seen.push(`unhalted ${event.reason}`));
    events.on('paused', (event) => seen.push(`paused ${event.reason}`));
    events.on('dlq-write-failed', (event) => failures.push(`${event.outcome} ${event.matched}`));
    const bad = await produceTo(kafka, topic, 4, { undecodableRatio: 1 });
    await waitFor('the DLQ halt', () => seen.includes('halted dlq'), 60_000);
    const haltedAt = failures.length;
    expect(seen).toContain('paused dlq-halt');
    expect(bridge.graph.runtime.readiness()).toMatchObject({ ready: false, halts: ['dlq'] });
    // Probes back off (1 s doubling): a few attempts in 6 s, not a loop.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(failures.length - haltedAt).toBeLessThanOrEqual(4);
    expect(failures.every((failure) => failure.startsWith('halt '))).toBe(true);
    expect(await allCommitted(admin, groupId, topic)).toBe(false);

    await createTopics(admin, [dlqTopic], 1);
    await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000);
    expect(seen).toContain('unhalted dlq');
    expect(bridge.graph.runtime.readiness()).toMatchObject({ ready: true, halts: [] });
    const letters = await readAll(kafka, dlqTopic);
    expect(new Set(letters.map((letter) => letter.key))).toEqual(new Set(bad.map((sample) => sample.key)));
    expect(sandbox.stats().accepted).toBe(0);
  });
});
