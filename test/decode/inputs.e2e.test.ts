import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runReceipts } from '../../src/cli/commands/receipts.ts';
import { frameRecord } from '../../src/decode/wire.ts';
import { readDeadLetterHeaders } from '../../src/kafka/dlq.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { transformEvent } from '../../src/transform/transform.ts';
import { allCommitted, bridgeEnv, readAll, waitFor } from '../helpers/bridge.ts';
import { captureIo } from '../helpers/cli-io.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { registerSchema } from '../helpers/registry.ts';
import { mappingDirectory } from '../helpers/mappings.ts';
import { coordinatesOf, readReceipts } from '../helpers/receipts.ts';
import { loadWorkedExamples, wireRecord, type WorkedExample } from '../mapping/worked-examples.ts';

/**
 * Issue 16's acceptance, end to end: `gong-bridge run` as a real process, the three worked
 * examples of docs/mappings.md registered in the real registry (Avro, JSON Schema, Protobuf),
 * produced in the Confluent wire format to real Kafka, mapped by MAPPINGS_FILE and delivered to
 * the Gong sandbox. The bodies the sandbox received are compared with the fixtures; records the
 * topics do not expect, and one whose mapping throws, must sit in the dead-letter topic with
 * their reasons; every offset must be committed. With KAFKA_RECEIPTS_TOPIC set, every source
 * record has exactly one receipt, read back through the registry's deserializer and through
 * `gong-bridge receipts`, naming its outcome, eventId, Gong's requestId and its source coordinates.
 * Start-up errors in the mapping file stop the process with exit 3 before it consumes anything.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

interface Exit {
  readonly code: number | null;
  readonly output: string;
}

function spawnRun(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<Exit>;
} {
  let output = '';
  const child = spawn(process.execPath, [main, 'run'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  return { child, output: () => output, exited };
}

describe('the worked examples through the real stack', () => {
  const services = inject('services');
  const kafka = testKafka();
  const admin = kafka.admin();
  const examples = loadWorkedExamples();
  const [pageView, signup, video] = examples as [WorkedExample, WorkedExample, WorkedExample];
  const topicOf = new Map(examples.map((example) => [example, uniqueName(example.topic)]));
  const topics = [...topicOf.values()];
  const dlqTopic = uniqueName('mapped.dlq');
  // Left to the bridge to create, as in production (ensureReceiptsTopic).
  const receiptsTopic = uniqueName('mapped.receipts');
  const groupId = uniqueName('mapped-bridge');
  const credentials = { accessKey: 'e2e-key', accessKeySecret: 'e2e-secret' };
  const ids = new Map<WorkedExample, number>();
  const dirs: string[] = [];
  let sandbox: RunningSandbox;
  let dropTopics: () => Promise<void> = async () => {};
  let env: Record<string, string> = {};

  beforeAll(async () => {
    await admin.connect();
    dropTopics = await createTopics(admin, [...topics, dlqTopic], 2);
    for (const example of examples) {
      ids.set(
        example,
        await registerSchema(services.schemaRegistryUrl, `${topicOf.get(example)}-value`, {
          schemaType: example.schemaType,
          schema: example.schemaText,
        }),
      );
    }
    sandbox = await startSandbox({ ...credentials, rps: 0, daily: 0 });
    const dir = mappingDirectory(topicOf);
    dirs.push(dir);
    env = bridgeEnv({
      GONG_ACCESS_KEY: credentials.accessKey,
      GONG_ACCESS_KEY_SECRET: credentials.accessKeySecret,
      GONG_BASE_URL: sandbox.url,
      KAFKA_TOPICS: topics.join(','),
      KAFKA_DLQ_TOPIC: dlqTopic,
      KAFKA_RECEIPTS_TOPIC: receiptsTopic,
      KAFKA_GROUP_ID: groupId,
      INPUT_FORMATS: examples.map((example) => `${topicOf.get(example)}:${example.format}`).join(','),
      MAPPINGS_FILE: join(dir, 'mappings.yaml'),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
  });

  afterAll(async () => {
    await sandbox?.close();
    await dropTopics();
    await admin.deleteTopics({ topics: [receiptsTopic] }).catch(() => {});
    await admin.disconnect();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('maps and delivers every sample, dead-letters what its topic does not expect, and commits it all', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const expectedBodies = new Map<string, unknown>();
    for (const example of examples) {
      const messages = example.events.map((event, index) => {
        const body = example.bodies[index] as { eventId: string };
        expectedBodies.set(body.eventId, body);
        return { key: `${example.mapping}-${index}`, value: wireRecord(example, ids.get(example)!, event) };
      });
      await producer.send({ topic: topicOf.get(example)!, acks: -1, messages });
    }
    // A canonical event on a mapped Avro topic still goes through the built-in transform.
    const canonical = makeSampleEvent(16, () => 0.5);
    const canonicalId = await registerSchema(services.schemaRegistryUrl, `${uniqueName('canonical')}-value`, {
      schemaType: 'AVRO',
      schema: JSON.stringify(newestSchema().schema),
    });
    const canonicalBody = transformEvent(canonical);
    if (!canonicalBody.ok) throw new Error('the sample event must be valid');
    expectedBodies.set(canonical.eventId, canonicalBody.body);

    const signupJson = Buffer.from(JSON.stringify(signup.events[0]));
    const broken = {
      // JSON text where the producer should have used the registry's Avro serializer.
      'json-on-avro': { topic: topicOf.get(pageView)!, value: signupJson },
      // The registry's JSON Schema serializer on the Avro topic.
      'json-schema-on-avro': {
        topic: topicOf.get(pageView)!,
        value: frameRecord(ids.get(signup)!, signupJson),
      },
      // A Protobuf record on the JSON Schema topic.
      'protobuf-on-json-schema': {
        topic: topicOf.get(signup)!,
        value: wireRecord(video, ids.get(video)!, video.events[0]),
      },
      // A signup whose time the mapping cannot read.
      'mapping-throws': {
        topic: topicOf.get(signup)!,
        value: frameRecord(
          ids.get(signup)!,
          Buffer.from(JSON.stringify({ ...(signup.events[0] as object), createdAt: 'yesterday' })),
        ),
      },
      // Message indexes naming a message the .proto does not have.
      'protobuf-no-such-message': {
        topic: topicOf.get(video)!,
        value: frameRecord(ids.get(video)!, video.encode(video.events[0]), [4]),
      },
    };
    for (const [key, { topic, value }] of Object.entries(broken)) {
      await producer.send({ topic, acks: -1, messages: [{ key, value }] });
    }
    await producer.send({
      topic: topicOf.get(pageView)!,
      acks: -1,
      messages: [
        { key: 'canonical', value: frameRecord(canonicalId, newestSchema().type.toBuffer(canonical)) },
      ],
    });
    await producer.disconnect();

    const bridge = spawnRun(env);
    try {
      await waitFor(
        'every body at the sandbox',
        () => sandbox.stats().accepted >= expectedBodies.size,
        90_000,
        200,
      );
      await waitFor(
        'every offset committed',
        async () =>
          (await Promise.all(topics.map((topic) => allCommitted(admin, groupId, topic)))).every(Boolean),
        60_000,
        250,
      );
      const received = new Map(sandbox.accepted(0, 1_000).map((event) => [event.eventId, event.body]));
      expect(received).toEqual(expectedBodies);

      const letters = await readAll(kafka, dlqTopic);
      const byKey = Object.fromEntries(
        letters.map((letter) => [letter.key, readDeadLetterHeaders(letter.headers)]),
      );
      expect(Object.keys(byKey).sort()).toEqual(Object.keys(broken).sort());
      expect(byKey['json-on-avro']).toMatchObject({
        'gong-bridge.reason': 'NOT_CONFLUENT_FRAMED',
        'gong-bridge.message': expect.stringMatching(/it is JSON text .*read as avro \(INPUT_FORMATS\)/),
      });
      expect(byKey['json-schema-on-avro']).toMatchObject({
        'gong-bridge.reason': 'SCHEMA_NOT_AVRO',
        'gong-bridge.schema-id': String(ids.get(signup)),
      });
      expect(byKey['protobuf-on-json-schema']).toMatchObject({
        'gong-bridge.reason': 'SCHEMA_TYPE_UNEXPECTED',
        'gong-bridge.message': expect.stringContaining('is a Protobuf schema'),
      });
      expect(byKey['mapping-throws']).toMatchObject({
        'gong-bridge.reason': 'MAPPING_FAILED',
        'gong-bridge.mapping': 'product-signup',
        'gong-bridge.message': expect.stringMatching(
          /^mapping "product-signup" failed: timestamp: \$timestamp: cannot read "yesterday"/,
        ),
        'gong-bridge.attempts': '0',
      });
      expect(JSON.parse(byKey['mapping-throws']!['gong-bridge.errors']!)).toEqual([
        expect.stringMatching(/^timestamp: \$timestamp: cannot read "yesterday"/),
      ]);
      expect(byKey['protobuf-no-such-message']).toMatchObject({
        'gong-bridge.reason': 'PROTOBUF_DECODE_FAILED',
      });
      // The original bytes are kept for replay-dlq.
      expect(letters.find((letter) => letter.key === 'json-on-avro')?.value).toEqual(signupJson);

      // Receipts: every source record has exactly one (the bridge was not interrupted), keyed by
      // its eventId or, without one, its coordinates, decoded by the registry's deserializer.
      const sources = new Map<string, string>();
      for (const topic of topics) {
        for (const record of await readAll(kafka, topic))
          sources.set(record.key!, `${topic}/${record.partition}/${record.offset}`);
      }
      const expectedReceipts = new Map<string, Record<string, unknown>>();
      const accepted = new Map(
        sandbox
          .calls(0, 1_000)
          .filter((call) => call.status === 200)
          .map((call) => [call.eventId, call.requestId]),
      );
      const deliveredReceipt = (eventId: string, schemaId: number) => ({
        eventId,
        outcome: 'DELIVERED',
        deadLetterReason: null,
        httpStatus: 200,
        requestId: accepted.get(eventId),
        attempts: expect.any(Number),
        schemaId,
      });
      for (const example of examples) {
        example.bodies.forEach((body, index) =>
          expectedReceipts.set(
            `${example.mapping}-${index}`,
            deliveredReceipt((body as { eventId: string }).eventId, ids.get(example)!),
          ),
        );
      }
      expectedReceipts.set('canonical', deliveredReceipt(canonical.eventId, canonicalId));
      for (const key of Object.keys(broken)) {
        expectedReceipts.set(key, {
          eventId: byKey[key]!['gong-bridge.event-id'] ?? null,
          outcome: 'DEAD_LETTERED',
          deadLetterReason: byKey[key]!['gong-bridge.reason'],
          deadLetterTopic: dlqTopic,
          httpStatus: null,
          requestId: null,
          attempts: 0,
        });
      }
      expect(sources.size).toBe(expectedReceipts.size);
      const stored = await readReceipts(kafka, receiptsTopic);
      expect(stored.map((read) => coordinatesOf(read.receipt)).sort()).toEqual([...sources.values()].sort());
      const receiptAt = new Map(stored.map((read) => [coordinatesOf(read.receipt), read]));
      for (const [key, expected] of expectedReceipts) {
        const read = receiptAt.get(sources.get(key)!)!;
        expect(read.receipt, key).toMatchObject(expected);
        expect(read.receipt.attempts, key).toBeGreaterThanOrEqual(expected.outcome === 'DELIVERED' ? 1 : 0);
        expect(read.key, key).toBe(read.receipt.eventId ?? coordinatesOf(read.receipt));
        expect(read.receipt.settledAt, key).toBeGreaterThanOrEqual(read.receipt.firstAttemptAt);
      }

      // `gong-bridge receipts --event-id` answers for one event of each example: it reached Gong.
      for (const example of examples) {
        const { eventId } = example.bodies[0] as { eventId: string };
        const asked = captureIo(env);
        expect(await runReceipts(['--event-id', eventId, '--json'], asked.io), asked.err()).toBe(0);
        const [line, ...more] = asked.out().trim().split('\n');
        expect(more).toEqual([]);
        const [topic, partition, offset] = sources.get(`${example.mapping}-0`)!.split('/');
        expect(JSON.parse(line!)).toMatchObject({
          eventId,
          outcome: 'delivered',
          requestId: accepted.get(eventId),
          source: { topic, partition: Number(partition), offset: Number(offset) },
        });
        expect(asked.err()).toContain(`${eventId} reached Gong: DELIVERED`);
      }
      const listed = captureIo(env);
      expect(await runReceipts(['--since', '1h', '--json'], listed.io), listed.err()).toBe(0);
      expect(listed.out().trim().split('\n')).toHaveLength(sources.size);

      // The start-up log names each topic's format and each mapping, checked against the registry.
      const lines = bridge
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.filter((line) => line.event === 'input').map((line) => [line.topic, line.format])).toEqual(
        examples.map((example) => [topicOf.get(example), example.format]),
      );
      expect(lines.filter((line) => line.event === 'mapping').map((line) => line.checkedAgainst)).toEqual([
        expect.stringContaining(`subject ${topicOf.get(pageView)}-value version 1`),
        expect.stringContaining(`subject ${topicOf.get(signup)}-value version 1`),
        expect.stringContaining(`subject ${topicOf.get(video)}-value version 1`),
      ]);
    } finally {
      bridge.child.kill('SIGTERM');
      const exit = await bridge.exited;
      expect(exit.code, exit.output.slice(-2_000)).toBe(0);
    }
  });

  it('stops start-up with exit 3 on an expression that does not compile, naming the file, line, mapping and expression', async () => {
    const dir = mappingDirectory(topicOf, (text) =>
      text.replace(
        `eventType: "completed ? 'video completed' : 'video watched'"`,
        `eventType: "completed ? 'video completed"`,
      ),
    );
    dirs.push(dir);
    const file = join(dir, 'mappings.yaml');
    const exit = await spawnRun({ ...env, MAPPINGS_FILE: file, KAFKA_GROUP_ID: uniqueName('never') }).exited;
    expect(exit.code).toBe(3);
    expect(exit.output).toMatch(
      new RegExp(
        `gong-bridge run: MAPPINGS_FILE ${file} has a problem:\\n  - ${file}:\\d+:\\d+: mapping "video-progress", eventType: does not compile: `,
      ),
    );
    expect(exit.output).toContain("expression: completed ? 'video completed");
  });

  it('stops start-up with exit 3 on a field the registered writer schema does not have', async () => {
    const dir = mappingDirectory(topicOf, (text) =>
      text.replace('contentUrl: page.url', 'contentUrl: page.link'),
    );
    dirs.push(dir);
    const file = join(dir, 'mappings.yaml');
    const exit = await spawnRun({ ...env, MAPPINGS_FILE: file, KAFKA_GROUP_ID: uniqueName('never') }).exited;
    expect(exit.code).toBe(3);
    expect(exit.output).toMatch(
      new RegExp(
        `mapping "web-page-view", content\\.contentUrl: field page\\.link does not exist in Avro record acme\\.web\\.PageView \\(subject ${topicOf.get(pageView)}-value version 1\\)`,
      ),
    );
    expect(exit.output).toContain('expression: page.link');
  });
});
