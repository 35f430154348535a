import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runReceipts } from '../../src/cli/commands/receipts.ts';
import { registerNewestSchema } from '../../src/kafka/sample-producer.ts';
import { receiptSchema } from '../../src/receipts/receipt.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { decodeAvroJson } from '../../src/schemas/avro-json.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import type { InteractionEvent } from '../../src/transform/interaction-event.ts';
import { allCommitted, bridgeEnv, produceTo, readAll, startBridge, waitFor } from '../helpers/bridge.ts';
import { captureIo } from '../helpers/cli-io.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { coordinatesOf, readReceipts, type StoredReceipt } from '../helpers/receipts.ts';

/**
 * Issue 16 §4: a receipt per settled record in KAFKA_RECEIPTS_TOPIC, against real Kafka, Apicurio
 * and a Gong sandbox: what each outcome writes, that the registry's own deserializer reads it,
 * that no person data reaches it, that a receipts topic refusing writes halts delivery with
 * nothing committed past a record whose receipt is not stored, and the `receipts` tool.
 */
describe('receipts', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const registryUrl = inject('services').schemaRegistryUrl;
  const registry = new SchemaRegistry({ host: registryUrl });
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await admin.connect();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await admin.disconnect();
  });

  async function setup(name: string, sandbox: RunningSandbox) {
    const topic = uniqueName(name);
    const receiptsTopic = `${topic}.receipts`;
    const groupId = uniqueName(`${name}-bridge`);
    const drop = await createTopics(admin, [topic], 3);
    cleanups.push(async () => {
      await drop();
      await admin.deleteTopics({ topics: [`${topic}.dlq`, receiptsTopic] }).catch(() => {});
    });
    const env = bridgeEnv({
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      KAFKA_RECEIPTS_TOPIC: receiptsTopic,
      GONG_BASE_URL: sandbox.url,
    });
    return { topic, receiptsTopic, groupId, env };
  }

  async function sandboxOf(options: { strict?: boolean } = {}) {
    const sandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 0,
      daily: 0,
      ...options,
    });
    cleanups.push(() => sandbox.close());
    return sandbox;
  }

  /** Produces framed events written with the newest schema, as an upstream team would. */
  async function produceEvents(topic: string, events: readonly InteractionEvent[]) {
    const id = await registerNewestSchema(registry, topic);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: events.map((event) => {
          const value = Buffer.concat([Buffer.alloc(5), newestSchema().type.toBuffer(event)]);
          value.writeInt32BE(id, 1);
          return { key: event.eventId, value };
        }),
      });
    } finally {
      await producer.disconnect();
    }
  }

  describe('one receipt per settled record, read back through the registry', () => {
    const probeEmail = `receipt.probe.${randomUUID().slice(0, 8)}@example.com`;
    const probeName = 'Prudence Receiptprobe';
    let context: Awaited<ReturnType<typeof setup>>;
    let sandbox: RunningSandbox;
    let probe: InteractionEvent;
    let rejected: InteractionEvent;
    let receipts: StoredReceipt[];
    const kinds = new Map<string, string>();
    const coordinates = new Map<string, string>();

    beforeAll(async () => {
      sandbox = await sandboxOf({ strict: true });
      context = await setup('receipts', sandbox);
      const { topic, receiptsTopic, groupId, env } = context;
      // Samples: valid events, Gong-invalid ones (withheld, GONG_INVALID) and undecodable records.
      const samples = await produceTo(kafka, topic, 24, { invalidRatio: 0.25, undecodableRatio: 0.125 });
      for (const sample of samples) kinds.set(sample.key, sample.kind);
      // A known person, to look for in every receipt byte.
      let seq = 9_000;
      do probe = makeSampleEvent(seq++, Math.random);
      while (probe.person === null || probe.person === undefined);
      probe = {
        ...probe,
        eventId: `probe-${randomUUID()}`,
        person: { ...probe.person, email: probeEmail, name: probeName },
      };
      // An event that breaks an inferred rule: sent flagged, and the strict sandbox answers 400.
      const line = readFileSync(
        new URL('../fixtures/avro-events.inferred.jsonl', import.meta.url),
        'utf8',
      ).split('\n')[0]!;
      const decoded = decodeAvroJson(newestSchema().type, line);
      if (!decoded.ok) throw new Error(decoded.errors.join('; '));
      rejected = { ...(decoded.value as InteractionEvent), eventId: `rejected-${randomUUID()}` };
      await produceEvents(topic, [probe, rejected]);
      kinds.set(probe.eventId, 'valid');
      kinds.set(rejected.eventId, 'rejected');

      const bridge = await startBridge(env);
      cleanups.push(() => bridge.stop());
      await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000);
      // The same event again: Gong answers 409.
      await produceEvents(topic, [probe]);
      await waitFor('the copy committed', () => allCommitted(admin, groupId, topic), 60_000);
      await bridge.stop();
      for (const record of await readAll(kafka, topic))
        coordinates.set(`${topic}/${record.partition}/${record.offset}`, record.key ?? '');
      receipts = await readReceipts(kafka, receiptsTopic);
    });

    it('creates the receipts topic, not compacted, and registers the receipt schema under <topic>-value', async () => {
      const { receiptsTopic } = context;
      const config = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: receiptsTopic, configNames: ['cleanup.policy'] },
        ],
      });
      expect(config.resources[0]?.configEntries[0]?.configValue).toBe('delete');
      const id = await registry.getLatestSchemaId(`${receiptsTopic}-value`);
      expect(receipts.every((stored) => stored.value.readInt32BE(1) === id)).toBe(true);
      // The registry serves it back as the schema in schemas/receipt.v1.avsc.
      const served = (await registry.getSchema(id)) as { name?: string };
      expect(served.name).toBe(`io.gongbridge.${(receiptSchema() as { name: string }).name}`);
    });

    it('writes exactly one receipt per record when nothing crashed, with the outcome of each', () => {
      expect(receipts.map((stored) => coordinatesOf(stored.receipt)).sort()).toEqual(
        [...coordinates.keys()].sort(),
      );
      const byKind = new Map<string, string[]>();
      for (const { receipt } of receipts) {
        const key = coordinates.get(coordinatesOf(receipt))!;
        const kind = receipt.eventId === probe.eventId ? `probe ${receipt.outcome}` : kinds.get(key)!;
        const seen = `${receipt.outcome} ${receipt.deadLetterReason ?? '-'} ${receipt.httpStatus ?? '-'}`;
        byKind.set(kind, [...new Set([...(byKind.get(kind) ?? []), seen])]);
      }
      expect(Object.fromEntries(byKind)).toEqual({
        valid: ['DELIVERED - 200'],
        'probe DELIVERED': ['DELIVERED - 200'],
        'probe DUPLICATE': ['DUPLICATE - 409'],
        invalid: ['DEAD_LETTERED GONG_INVALID -'],
        rejected: ['DEAD_LETTERED GONG_REJECTED 400'],
        'not-framed': ['DEAD_LETTERED NOT_CONFLUENT_FRAMED -'],
        'unknown-schema': ['DEAD_LETTERED UNKNOWN_SCHEMA_ID -'],
        undecodable: ['DEAD_LETTERED AVRO_DECODE_FAILED -'],
      });
    });

    it('carries Gong requestIds and attempts, the times, the source, and keys each by eventId or its coordinates', () => {
      const { topic } = context;
      for (const { key, receipt } of receipts) {
        expect(receipt.firstAttemptAt).toBeLessThanOrEqual(receipt.settledAt);
        expect(receipt.source.topic).toBe(topic);
        expect(receipt.source.timestamp).toBeGreaterThan(0);
        expect(receipt.bridgeVersion).toMatch(/^\d+\.\d+\.\d+/);
        if (receipt.httpStatus === null) expect(receipt.attempts).toBe(0);
        else {
          expect(receipt.attempts).toBe(1);
          expect(receipt.requestId).toMatch(/\S/);
        }
        if (receipt.outcome === 'DEAD_LETTERED') expect(receipt.deadLetterTopic).toBe(`${topic}.dlq`);
        expect(key).toBe(receipt.eventId ?? coordinatesOf(receipt));
      }
      const sourceKeys = receipts.filter((stored) => stored.receipt.eventId === null);
      expect(sourceKeys.map((stored) => kinds.get(coordinates.get(stored.key!)!))).toEqual(
        expect.arrayContaining(['not-framed', 'unknown-schema', 'undecodable']),
      );
    });

    it('carries no person data: the probe email, name and every person field Gong received are in no receipt byte', () => {
      const personStrings = new Set<string>([probeEmail, probeName]);
      const collect = (value: unknown): void => {
        if (typeof value === 'string' && value.length >= 6) personStrings.add(value);
        else if (Array.isArray(value)) value.forEach(collect);
        else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect);
      };
      for (const accepted of sandbox.accepted(0, 1_000))
        collect((accepted.body as { person?: unknown } | null)?.person);
      expect(personStrings.size).toBeGreaterThan(10);
      const bytes = Buffer.concat(
        receipts.flatMap((stored) => [Buffer.from(stored.key ?? ''), stored.value]),
      );
      expect([...personStrings].filter((text) => bytes.includes(text))).toEqual([]);
    });

    it('receipts --event-id answers whether an event reached Gong, and --since lists them', async () => {
      const { env } = context;
      const reached = captureIo(env);
      expect(await runReceipts(['--event-id', probe.eventId, '--json'], reached.io), reached.err()).toBe(0);
      const lines = reached
        .out()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { outcome: string; httpStatus: number; requestId: string });
      expect(lines.map((line) => line.outcome)).toEqual(['delivered', 'duplicate']);
      expect(reached.err()).toContain(`${probe.eventId} reached Gong: DELIVERED`);

      const deadLettered = captureIo(env);
      expect(await runReceipts(['--event-id', rejected.eventId], deadLettered.io)).toBe(1);
      expect(deadLettered.out()).toMatch(/DEAD_LETTERED.*reason GONG_REJECTED.*status 400.*requestId \S+/);
      expect(deadLettered.err()).toContain('did not reach Gong: dead-lettered (GONG_REJECTED)');

      const unknown = captureIo(env);
      expect(await runReceipts(['--event-id', 'never-produced', '--since', '1h'], unknown.io)).toBe(1);
      expect(unknown.err()).toContain('no receipt for never-produced');

      const listed = captureIo(env);
      expect(await runReceipts(['--since', '1h', '--json'], listed.io)).toBe(0);
      expect(listed.out().trim().split('\n')).toHaveLength(receipts.length);
      const none = captureIo(env);
      expect(await runReceipts(['--since', '2h', '--until', '1h'], none.io)).toBe(0);
      expect(none.out()).toBe('');
      expect(none.err()).toContain('0 receipts');
    });

    it('receipts names a missing receipts topic as a configuration error', async () => {
      const { env } = context;
      const { KAFKA_RECEIPTS_TOPIC: _unset, ...withoutTopic } = env;
      await expect(runReceipts(['--since', '1h'], captureIo(withoutTopic).io)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('KAFKA_RECEIPTS_TOPIC is not set') as string,
      });
      await expect(
        runReceipts(['--since', '1h', '--topic', uniqueName('no-such-receipts')], captureIo(env).io),
      ).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('does not exist') as string,
      });
    });
  });

  it('halts while the receipts topic is missing: delivered records are not committed until their receipts are stored', async () => {
    const sandbox = await sandboxOf();
    const { topic, receiptsTopic, groupId, env } = await setup('receipts-halt', sandbox);
    const bridge = await startBridge(env);
    cleanups.push(() => bridge.stop());
    await admin.deleteTopics({ topics: [receiptsTopic] });
    await waitFor(
      'the receipts topic gone',
      async () => !(await admin.listTopics()).includes(receiptsTopic),
      30_000,
    );
    const seen: string[] = [];
    const failures: string[] = [];
    const events = bridge.graph.runtime.events;
    events.on('halted', (event) => seen.push(`halted ${event.reason}`));
    events.on('unhalted', (event) => seen.push(`unhalted ${event.reason}`));
    events.on('paused', (event) => seen.push(`paused ${event.reason}`));
    events.on('receipt-write-failed', (event) => failures.push(`${event.outcome} ${event.matched}`));
    const produced = await produceTo(kafka, topic, 6);
    await waitFor('the receipts halt', () => seen.includes('halted receipts'), 60_000);
    await waitFor('every event at Gong', () => sandbox.stats().accepted === produced.length, 30_000);
    expect(seen).toContain('paused receipts-halt');
    expect(bridge.graph.runtime.readiness()).toMatchObject({ ready: false, halts: ['receipts'] });
    // Delivered, but no receipt stored: nothing may be committed.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(offsets?.partitions.map((partition) => partition.offset)).toEqual(['-1', '-1', '-1']);
    expect(bridge.graph.runtime.stats()).toMatchObject({ receiptsPending: produced.length, receipts: 0 });
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((failure) => failure.startsWith('halt '))).toBe(true);

    await admin.createTopics({ topics: [{ topic: receiptsTopic, numPartitions: 1 }], waitForLeaders: true });
    await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000);
    expect(seen).toContain('unhalted receipts');
    expect(bridge.graph.runtime.readiness()).toMatchObject({ ready: true, halts: [] });
    const stored = await readReceipts(kafka, receiptsTopic);
    expect(new Set(stored.map((receipt) => receipt.receipt.eventId))).toEqual(
      new Set(produced.map((sample) => sample.eventId)),
    );
    // Each was sent to Gong once: the halt cost no call.
    expect(sandbox.stats().calls).toBe(produced.length);
  });

  it('stops start-up when the registry refuses the receipt schema as incompatible with the subject', async () => {
    const sandbox = await sandboxOf();
    const { receiptsTopic, env } = await setup('receipts-incompatible', sandbox);
    const subject = `${receiptsTopic}-value`;
    await registry.register(
      {
        type: 'AVRO' as never,
        schema: JSON.stringify({ type: 'record', name: 'Other', fields: [{ name: 'n', type: 'int' }] }),
      },
      { subject },
    );
    const answer = await fetch(`${registryUrl}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    expect(answer.ok, await answer.text()).toBe(true);
    await expect(startBridge(env)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(`refused the schema for subject ${subject} as incompatible`) as string,
    });
  });
});
