import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProduceSample } from '../../src/cli/commands/produce-sample.ts';
import { runReplayDlq, type ReplaySummary } from '../../src/cli/commands/replay-dlq.ts';
import { isBridgeError } from '../../src/errors.ts';
import { deadLetterHeaders, referenceLetter } from '../../src/kafka/dlq.ts';
import { registerNewestSchema } from '../../src/kafka/sample-producer.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { allCommitted, bridgeEnv, header, readAll, startBridge, waitFor } from '../helpers/bridge.ts';
import { captureIo } from '../helpers/cli-io.ts';
import { testKafka, uniqueName } from '../helpers/kafka.ts';

const cliIo = (env: Record<string, string>) => captureIo(env);

/** produce-sample and replay-dlq as commands, against real Kafka, Apicurio and a sandbox. */
describe('produce-sample and replay-dlq', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const topic = uniqueName('replay');
  const dlqTopic = `${topic}.dlq`;
  const republished = uniqueName('republished');
  const groupId = uniqueName('replay-bridge');
  let sandbox: RunningSandbox;
  let env: Record<string, string>;

  beforeAll(async () => {
    await admin.connect();
    sandbox = await startSandbox({ accessKey: 'test-key', accessKeySecret: 'test-secret', rps: 0, daily: 0 });
    env = bridgeEnv({ KAFKA_TOPICS: topic, KAFKA_GROUP_ID: groupId, GONG_BASE_URL: sandbox.url });
  });

  afterAll(async () => {
    await sandbox.close();
    await admin.deleteTopics({ topics: [topic, dlqTopic, republished] }).catch(() => {});
    await admin.disconnect();
  });

  it('produce-sample creates the topic, registers the schema and produces framed events', async () => {
    const cli = cliIo(env);
    const code = await runProduceSample(
      ['--count', '100', '--topic', topic, '--invalid-ratio', '0.1', '--create-topic', '--json'],
      cli.io,
    );
    expect(code, cli.err()).toBe(0);
    expect(JSON.parse(cli.out())).toMatchObject({ topic, produced: 100, byKind: { valid: 90, invalid: 10 } });
    const records = await readAll(kafka, topic);
    expect(records).toHaveLength(100);
    expect(records.every((record) => record.value?.[0] === 0)).toBe(true);

    const bridge = await startBridge(env);
    try {
      await waitFor('the bridge to settle every record', () => allCommitted(admin, groupId, topic));
    } finally {
      await bridge.stop();
    }
    expect(sandbox.stats().accepted).toBe(90);
    expect(await readAll(kafka, dlqTopic)).toHaveLength(10);
  });

  it('replay-dlq --dry-run classifies without sending; --to-topic republishes without the reason headers', async () => {
    const dry = cliIo(env);
    expect(await runReplayDlq(['--dry-run', '--json'], dry.io)).toBe(1);
    expect(JSON.parse(dry.out()) as ReplaySummary).toMatchObject({
      read: 10,
      selected: 10,
      stillInvalid: 10,
    });

    await admin.createTopics({ topics: [{ topic: republished, numPartitions: 1 }], waitForLeaders: true });
    const move = cliIo(env);
    expect(
      await runReplayDlq(['--to-topic', republished, '--reason', 'GONG_INVALID', '--json'], move.io),
    ).toBe(0);
    expect(JSON.parse(move.out())).toMatchObject({ selected: 10, republished: 10 });
    const moved = await readAll(kafka, republished);
    expect(moved).toHaveLength(10);
    for (const record of moved) {
      expect(header(record.headers, 'gong-bridge.reason')).toBeUndefined();
      expect(header(record.headers, 'gong-bridge.replayed-from')).toMatch(new RegExp(`^${dlqTopic}/`));
      expect(header(record.headers, 'sample-kind')).toBe('invalid');
    }
  });

  it('replay-dlq re-sends a dead letter that is valid now, and only the reasons asked for', async () => {
    // A record Gong once rejected (say, a contract bug since fixed) that is valid today.
    const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
    const id = await registerNewestSchema(registry, topic);
    const event = makeSampleEvent(424_242, Math.random);
    const payload = newestSchema().type.toBuffer(event);
    const value = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), payload]);
    value.writeInt32BE(id, 1);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const record = {
      topic,
      partition: 0,
      offset: '0',
      timestamp: '0',
      key: Buffer.from(event.eventId),
      value,
    };
    await producer.send({
      topic: dlqTopic,
      acks: -1,
      messages: [
        {
          key: record.key,
          value,
          headers: deadLetterHeaders(
            record,
            { reason: 'GONG_REJECTED', message: 'was 400', status: 400 },
            '0.0.1',
            0,
          ),
        },
      ],
    });
    await producer.disconnect();

    // Without REDIS_URL it cannot see a running bridge's calls: it must be told its share of the
    // account's quota (issue 14 §4), and sends nothing until it is.
    const callsBefore = sandbox.stats().calls;
    const refused = await runReplayDlq(['--reason', 'GONG_REJECTED', '--json'], cliIo(env).io).catch(
      (error: unknown) => error,
    );
    expect(isBridgeError(refused) && refused.code).toBe('USAGE');
    expect((refused as Error).message).toContain('--share');
    expect(sandbox.stats().calls).toBe(callsBefore);

    const cli = cliIo(env);
    expect(
      await runReplayDlq(['--reason', 'GONG_REJECTED', '--share', '1', '--json'], cli.io),
      cli.err(),
    ).toBe(0);
    expect(cli.err()).toContain('warning: no REDIS_URL: this run takes 100% of the account');
    expect(JSON.parse(cli.out())).toMatchObject({ read: 11, selected: 1, delivered: 1, stillInvalid: 0 });
    expect(sandbox.event(event.eventId)).toBeDefined();

    // Again: idempotent through the eventId, Gong answers 409 and it counts as delivered.
    const again = cliIo(env);
    expect(await runReplayDlq(['--reason', 'GONG_REJECTED', '--share', '1', '--json'], again.io)).toBe(0);
    expect(JSON.parse(again.out())).toMatchObject({ selected: 1, delivered: 0, duplicates: 1 });
  });

  it('replay-dlq counts a reference letter as not replayable and says where the original is', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const source = {
      topic,
      partition: 2,
      offset: '77',
      timestamp: '0',
      key: Buffer.from('too-big'),
      value: Buffer.alloc(10),
    };
    const letter = referenceLetter(source, { reason: 'RECORD_TOO_LARGE', message: 'big' }, '0.0.1', 0, {
      originals: true,
      topic: dlqTopic,
    });
    await producer.send({
      topic: dlqTopic,
      acks: -1,
      messages: [{ key: letter.key, value: letter.value, headers: letter.headers ?? {} }],
    });
    await producer.disconnect();
    const cli = cliIo(env);
    expect(
      await runReplayDlq(['--reason', 'DEAD_LETTER_TOO_LARGE', '--share', '1', '--json'], cli.io),
      cli.err(),
    ).toBe(1);
    expect(JSON.parse(cli.out())).toMatchObject({
      selected: 1,
      delivered: 0,
      notReplayable: 1,
      byReason: { [`not replayable (DEAD_LETTER_TOO_LARGE: the original is at ${topic}/2/77)`]: 1 },
    });
  });

  it('replay-dlq reads a dead letter as its source topic is read now: a JSON record no mapping took is delivered once one does', async () => {
    const signups = uniqueName('signups');
    const mappedDlq = uniqueName('signups.dlq');
    const dir = mkdtempSync(join(tmpdir(), 'gong-bridge-replay-mappings-'));
    const mappingsFile = join(dir, 'mappings.yaml');
    writeFileSync(
      mappingsFile,
      [
        'version: 1',
        'mappings:',
        '  - name: plain-signups',
        `    match: { topics: ${signups} }`,
        '    body:',
        '      eventId: signupId',
        '      timestamp: $timestamp(createdAt)',
        '      eventType: { const: signed up }',
        '      content: { contentTitle: plan }',
        '',
      ].join('\n'),
    );
    const signupId = uniqueName('su');
    const value = Buffer.from(JSON.stringify({ signupId, createdAt: '2026-01-05T10:02:13Z', plan: 'team' }));
    const source = { topic: signups, partition: 0, offset: '3', timestamp: '0', key: null, value };
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: mappedDlq,
      acks: -1,
      messages: [
        {
          key: null,
          value,
          headers: deadLetterHeaders(source, { reason: 'NO_MAPPING', message: 'no mapping yet' }, '0.0.1', 0),
        },
      ],
    });
    await producer.disconnect();
    try {
      const cli = cliIo({
        ...env,
        KAFKA_TOPICS: signups,
        INPUT_FORMATS: `${signups}:json`,
        MAPPINGS_FILE: mappingsFile,
      });
      expect(
        await runReplayDlq(['--dlq-topic', mappedDlq, '--share', '1', '--json'], cli.io),
        cli.err(),
      ).toBe(0);
      expect(JSON.parse(cli.out())).toMatchObject({ selected: 1, delivered: 1, stillInvalid: 0 });
      expect(sandbox.event(signupId)?.body).toEqual({
        eventId: signupId,
        timestamp: '2026-01-05T10:02:13.000Z',
        eventType: 'signed up',
        content: { contentTitle: 'team' },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await admin.deleteTopics({ topics: [mappedDlq] }).catch(() => {});
    }
  });
});
