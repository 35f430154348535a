import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { produceSamples, registerNewestSchema } from '../../src/kafka/sample-producer.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { spawnBridge, waitFor } from '../helpers/bridge.ts';
import { settings } from '../../src/config/settings.ts';
import { ensureDlqTopic } from '../../src/kafka/dlq.ts';
import { buildReceipt, encodeReceipt, receiptSchema } from '../../src/receipts/receipt.ts';
import { ensureReceiptsTopic, receiptsSubject } from '../../src/receipts/writer.ts';
import { registerAvroSchema } from '../../src/schemas/register.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { freePort } from '../helpers/redis.ts';
import { program, requires } from '../helpers/requirements.ts';
import { commandNames, repoRoot, runCli } from './run-cli.ts';

/**
 * Every example in every `--help` (the overview's and each command's) runs here, as written, in a
 * shell, and must succeed: exit 0, or for a command that serves until stopped (`run`, `sandbox`),
 * become ready and then stop cleanly on SIGTERM. The only changes are the table of placeholders
 * below (the example's hosts, credentials and topic become this test's: the local stack, a Gong
 * sandbox, a topic of its own) and the input files the examples name, copied from
 * test/fixtures/. A new example needs nothing here unless it uses a placeholder of its own, so an
 * example that does not work fails this test instead of a reader. Each example gets its own topic
 * (with its schema registered), its own sandbox and its own working directory.
 */

const services = inject('services');
const kafka = testKafka();
const admin = kafka.admin();
let producer: Producer;
const work = mkdtempSync(join(tmpdir(), 'gong-bridge-help-examples-'));
const bin = join(work, 'bin');

/** Where each example runs: what its placeholders become, and its environment. */
interface Place {
  readonly topic: string;
  readonly sandbox: RunningSandbox;
  readonly dir: string;
  /** host:port of running bridges' HTTP endpoints, for examples that read a replica's /metrics. */
  replicas: string[];
  /** Settings a command's setup adds to the environment (receipts: KAFKA_RECEIPTS_TOPIC). */
  env: Record<string, string>;
}

const credentials = { key: 'example-access-key', secret: 'example-access-key-secret' };

/** The placeholders examples use, and what each stands for here. */
const placeholders: readonly (readonly [RegExp, (place: Place) => string])[] = [
  [/\b(?:kafka|kafka-0|localhost):9092\b/g, () => services.kafkaBrokers.join(',')],
  [/\bhttp:\/\/localhost:8081\b/g, () => services.schemaRegistryUrl],
  [/\bredis:\/\/redis:6379\b/g, () => services.redisUrl],
  [/\bGONG_ACCESS_KEY=\.\.\./g, () => `GONG_ACCESS_KEY=${credentials.key}`],
  [/\bGONG_ACCESS_KEY_SECRET=\.\.\./g, () => `GONG_ACCESS_KEY_SECRET=${credentials.secret}`],
  [/\b(?:localhost|127\.0\.0\.1):8089\b/g, (place) => new URL(place.sandbox.url).host],
  [/(?<=--topic |--to-topic |KAFKA_TOPICS=)interactions\b/g, (place) => place.topic],
  // A replica's metrics endpoint (`status`): the first address named is one running bridge, the
  // second another.
  [/\b(?:localhost|10\.0\.3\.7):9464\b/g, (place) => place.replicas[0] ?? ''],
  [/\b10\.0\.3\.8:9464\b/g, (place) => place.replicas[1] ?? ''],
  // A sandbox on the default port 8089 could collide with a running demo: any free port instead.
  [/^(gong-bridge sandbox(?!.*--port).*)$/g, () => '$1 --port 0'],
];

/** Commands that serve until stopped, and the output that says they are ready. */
const servesUntilStopped: Readonly<Record<string, RegExp>> = {
  run: /gong-bridge running/,
  sandbox: /listening on http:\/\//,
};

/**
 * What a command's examples need besides a topic with its schema: replay-dlq, dead letters;
 * status, two running replicas of the bridge (the first also on HTTP_PORT, its default);
 * receipts, a receipts topic (KAFKA_RECEIPTS_TOPIC, as the operator's environment has it) holding
 * a receipt of the event the examples ask about.
 */
const setups: Readonly<Record<string, (place: Place) => Promise<void>>> = {
  status: async (place) => {
    const group = uniqueName('help-example-status');
    for (let replica = 0; replica < 2; replica++) {
      const port = await freePort();
      const bridge = spawnBridge({ ...environment(place), KAFKA_GROUP_ID: group, HTTP_PORT: String(port) });
      cleanups.push(() => bridge.kill());
      await waitFor('a replica to start', () => bridge.stdout().includes('gong-bridge running'));
      place.replicas.push(`127.0.0.1:${port}`);
    }
  },
  receipts: async (place) => {
    const receiptsTopic = `${place.topic}.receipts`;
    await ensureReceiptsTopic(admin, receiptsTopic);
    cleanups.push(() => admin.deleteTopics({ topics: [receiptsTopic] }).then(() => {}));
    place.env.KAFKA_RECEIPTS_TOPIC = receiptsTopic;
    const registry = new SchemaRegistry({ host: services.schemaRegistryUrl });
    const schemaId = await registerAvroSchema(registry, receiptsSubject(receiptsTopic), receiptSchema());
    const now = Date.now();
    const receipt = buildReceipt(
      { topic: place.topic, partition: 0, offset: '0', timestamp: String(now - 2_000) },
      { outcome: 'delivered', eventId: 'evt-00000001-5c0ffee0', status: 200, requestId: 'r-1', attempts: 1 },
      { firstAttemptAt: now - 1_000, settledAt: now - 900 },
      { bridgeVersion: 'help-example', deadLetterTopic: `${place.topic}.dlq` },
    );
    await producer.send({
      topic: receiptsTopic,
      acks: -1,
      messages: [{ key: receipt.eventId, value: encodeReceipt(receipt, schemaId) }],
    });
  },
  // One letter of each reason the examples replay: events Gong accepts now (GONG_INVALID,
  // GONG_REJECTED) and one to republish (UNKNOWN_SCHEMA_ID).
  'replay-dlq': async (place) => {
    const reasons = ['GONG_INVALID', 'GONG_REJECTED', 'UNKNOWN_SCHEMA_ID'];
    await produceSamples({
      producer: {
        send: (record) =>
          producer.send({
            ...record,
            messages: record.messages.map((message, index) => ({
              ...message,
              headers: { ...message.headers, 'gong-bridge.reason': reasons[index % reasons.length]! },
            })),
          }),
      },
      registry: new SchemaRegistry({ host: services.schemaRegistryUrl }),
      topic: `${place.topic}.dlq`,
      count: reasons.length,
    });
  },
};

/** Input files the examples name, by the schema they are written with. */
function inputFiles(example: string): Record<string, string> {
  const events = example.includes('interaction-event.v1.avsc')
    ? 'avro-events.v1.jsonl'
    : 'avro-events.valid.jsonl';
  return { 'events.jsonl': events, 'bodies.jsonl': 'gong-bodies.valid.jsonl' };
}

function examplesOf(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.findIndex((line) => /^Examples?:$/.test(line));
  if (start < 0) return [];
  const examples: string[] = [];
  let pending = '';
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    const joined = `${pending}${line.trim()}`;
    if (joined.endsWith('\\')) {
      pending = `${joined.slice(0, -1).trimEnd()} `;
      continue;
    }
    pending = '';
    // The overview follows some examples with a description, two or more spaces away.
    examples.push(joined.split(/ {2,}/)[0]!);
  }
  return examples;
}

const overview = (await runCli(['--help'])).stdout;
const helps = [
  { source: 'gong-bridge --help', text: overview },
  ...(await Promise.all(
    commandNames(overview).map(async (name) => ({
      source: `gong-bridge ${name} --help`,
      text: (await runCli([name, '--help'])).stdout,
    })),
  )),
];
const cases = helps.flatMap(({ source, text }) => examplesOf(text).map((example) => ({ source, example })));

beforeAll(async () => {
  mkdirSync(bin);
  // `gong-bridge` in an example is this checkout's CLI, as the README says.
  writeFileSync(
    join(bin, 'gong-bridge'),
    `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, 'src/cli/main.ts')}" "$@"\n`,
  );
  chmodSync(join(bin, 'gong-bridge'), 0o755);
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

const cleanups: (() => Promise<void>)[] = [];
beforeEach(() => {
  cleanups.length = 0;
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
  rmSync(work, { recursive: true, force: true });
});

async function place(example: string): Promise<Place> {
  const topic = uniqueName('help-example');
  // The dead-letter topic as the bridge creates it (sized for MAX_RECORD_BYTES), so doctor's DLQ
  // size check passes as it does for a bridge that made its own.
  const dropTopics = await createTopics(admin, [topic]);
  await ensureDlqTopic(admin, `${topic}.dlq`, settings.MAX_RECORD_BYTES.schema.parse(undefined));
  cleanups.push(() => admin.deleteTopics({ topics: [`${topic}.dlq`] }).catch(() => {}));
  await registerNewestSchema(new SchemaRegistry({ host: services.schemaRegistryUrl }), topic);
  const sandbox = await startSandbox({
    port: 0,
    accessKey: credentials.key,
    accessKeySecret: credentials.secret,
    rps: 0,
    daily: 0,
  });
  const dir = mkdtempSync(join(work, 'example-'));
  for (const [name, fixture] of Object.entries(inputFiles(example)))
    copyFileSync(join(repoRoot, 'test/fixtures', fixture), join(dir, name));
  // Paths inside the checkout, as examples name them (schemas/…, test/fixtures/…).
  for (const name of ['schemas', 'test']) symlinkSync(join(repoRoot, name), join(dir, name));
  cleanups.push(async () => {
    await sandbox.close();
    await dropTopics();
  });
  return { topic, sandbox, dir, replicas: [], env: {} };
}

function environment(where: Place): Record<string, string> {
  return {
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/root',
    KAFKA_BROKERS: services.kafkaBrokers.join(','),
    KAFKA_TOPICS: where.topic,
    KAFKA_GROUP_ID: uniqueName('help-example'),
    SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    // No REDIS_URL: examples that share the service's quota through Redis say so themselves
    // (REDIS_URL=redis://redis:6379 above), and the others show what runs without it.
    GONG_BASE_URL: where.sandbox.url,
    GONG_ACCESS_KEY: credentials.key,
    GONG_ACCESS_KEY_SECRET: credentials.secret,
    // A bridge an example starts picks a free port; with replicas running, the first one's, which
    // `status` reads by default.
    HTTP_PORT: where.replicas[0]?.split(':')[1] ?? '0',
    ...where.env,
  };
}

interface Ran {
  readonly code: number | null;
  readonly output: string;
}

/** Runs the example in bash (pipefail, so every stage of a pipeline counts), in its own process group. */
function shell(command: string, where: Place, readyWhen?: RegExp): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], {
      cwd: where.dir,
      env: environment(where),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const stopGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const onOutput = (chunk: string) => {
      output += chunk;
      if (readyWhen?.test(output) === true) {
        readyWhen = undefined;
        stopGroup('SIGTERM');
      }
    };
    child.stdout.setEncoding('utf8').on('data', onOutput);
    child.stderr.setEncoding('utf8').on('data', onOutput);
    const timer = setTimeout(() => stopGroup('SIGKILL'), 110_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('every --help example runs', () => {
  it('finds the examples of every command', () => {
    expect(helps.length).toBeGreaterThan(5);
    for (const { source, text } of helps) expect(examplesOf(text).length, source).toBeGreaterThan(0);
  });

  it.each(cases)(
    '$source: $example',
    requires(program('jq', 'apt-get install jq')),
    async ({ source, example }) => {
      const command = example.split(' ')[example.split(' ').indexOf('gong-bridge') + 1] ?? '';
      const fromHelp = source.split(' ')[1] === '--help' ? command : (source.split(' ')[1] ?? '');
      const where = await place(example);
      try {
        await setups[fromHelp]?.(where);
        const line = placeholders.reduce(
          (text, [pattern, value]) => text.replace(pattern, value(where)),
          example,
        );
        const readyWhen = example.includes('gong-bridge ') ? servesUntilStopped[command] : undefined;
        const ran = await shell(line, where, readyWhen);
        expect(ran.output).not.toContain('internal error');
        expect(ran.code, `${line}\n${ran.output.slice(-3_000)}`).toBe(0);
      } finally {
        for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      }
    },
  );
});
