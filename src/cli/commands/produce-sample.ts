import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../kafka/kafka-client.ts';
import { BridgeError } from '../../errors.ts';
import { explainKafkaError, kafkaClientConfig, registryClientOptions } from '../../kafka/connection.ts';
import { produceSamples } from '../../kafka/sample-producer.ts';
import { loadConfigWithWarnings } from '../command-config.ts';
import { ExitCode, numberOption, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';

const options = {
  count: { type: 'string' },
  topic: { type: 'string' },
  'invalid-ratio': { type: 'string' },
  'undecodable-ratio': { type: 'string' },
  'create-topic': { type: 'boolean' },
  partitions: { type: 'string' },
  manifest: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const help = `Usage: gong-bridge produce-sample --count N [--topic T] [options]

Produces realistic interaction events to Kafka: registers the newest schema in schemas/ under
subject <topic>-value (TopicNameStrategy) and writes Confluent-framed Avro records with varied
content (page views, videos, surveys, courses, comparisons), known persons with companies,
anonymous visitors and tracking-id-only events. Keys are the eventIds.

Options:
  --count N                Records to produce (required).
  --topic T                Topic (default: the first of KAFKA_TOPICS).
  --invalid-ratio X        Share (0..1) of schema-valid events that Gong would reject (the bridge
                           dead-letters them as GONG_INVALID). Default 0.
  --undecodable-ratio Y    Share (0..1) of records that cannot decode, in turn: not
                           Confluent-framed, unknown schema id, garbage Avro. Default 0.
  --create-topic           Create the topic first when it is missing.
  --partitions N           Partitions for --create-topic (default 3).
  --manifest FILE          Write one JSON line per record: {key, kind, eventId, expectedReason}.
  --json                   Print the summary as JSON on stdout.

Settings from the environment: KAFKA_BROKERS (and TLS/SASL), KAFKA_TOPICS, SCHEMA_REGISTRY_URL.

Exit codes: 0 every record produced, 1 Kafka or the registry failed, 2 usage error,
3 configuration error.

Examples:
  gong-bridge produce-sample --count 1000 --topic interactions --invalid-ratio 0.05
  gong-bridge produce-sample --count 200 --undecodable-ratio 0.01 --create-topic
`;

export const produceSampleCommand: CliCommand = {
  name: 'produce-sample',
  summary: 'Produce realistic Avro interaction events (and optionally bad ones) to a topic.',
  help,
  run: (argv, io) => runProduceSample(argv, io),
};

function ratio(name: string, value: string | undefined): number {
  const parsed = numberOption(name, value, 0, 0);
  if (parsed > 1)
    throw new BridgeError('USAGE', `--${name} must be from 0 to 1, got ${JSON.stringify(value)}`);
  return parsed;
}

export async function runProduceSample(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(options, argv, false);
  if (values.count === undefined) throw new BridgeError('USAGE', '--count N is required');
  const count = numberOption('count', values.count, 0, 1);
  if (!Number.isInteger(count)) throw new BridgeError('USAGE', '--count must be a whole number');
  const invalidRatio = ratio('invalid-ratio', values['invalid-ratio']);
  const undecodableRatio = ratio('undecodable-ratio', values['undecodable-ratio']);
  if (invalidRatio + undecodableRatio > 1) {
    throw new BridgeError('USAGE', '--invalid-ratio plus --undecodable-ratio must not exceed 1');
  }
  const partitions = numberOption('partitions', values.partitions, 3, 1);
  const config = loadConfigWithWarnings(io, 'produce-sample', [
    (settings) => kafkaClientConfig(settings),
    (settings) => registryClientOptions(settings),
  ]);
  const topic = values.topic ?? config.KAFKA_TOPICS?.[0];
  if (topic === undefined)
    throw new BridgeError('USAGE', '--topic T is required when KAFKA_TOPICS is not set');

  // A sample producer is run by hand or by the demo: an unreachable broker should fail in seconds,
  // not after the service's patient retry schedule.
  const kafka = kafkaClient({
    ...kafkaClientConfig(config),
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 },
    logLevel: logLevel.NOTHING,
  });
  const registry = new SchemaRegistry(registryClientOptions(config));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const started = performance.now();
  try {
    if (values['create-topic'] === true) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const existing = await admin.listTopics();
        if (!existing.includes(topic)) {
          await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
        }
      } finally {
        await admin.disconnect();
      }
    }
    await producer.connect();
    let last = 0;
    const manifest = await produceSamples({
      producer,
      registry,
      topic,
      count,
      invalidRatio,
      undecodableRatio,
      timestampMs: Date.now(),
      onProgress: (produced) => {
        if (produced - last >= 10_000 || produced === count) {
          last = produced;
          io.stderr.write(`produce-sample: ${produced}/${count}\n`);
        }
      },
    });
    if (values.manifest !== undefined) {
      await writeFile(
        resolve(io.cwd, values.manifest),
        manifest.map((entry) => JSON.stringify(entry)).join('\n') + '\n',
      );
    }
    const byKind: Record<string, number> = {};
    for (const entry of manifest) byKind[entry.kind] = (byKind[entry.kind] ?? 0) + 1;
    const summary = {
      topic,
      produced: manifest.length,
      byKind,
      elapsedMs: Math.round(performance.now() - started),
    };
    if (values.json === true) io.stdout.write(`${JSON.stringify(summary)}\n`);
    else
      io.stderr.write(
        `produced ${summary.produced} records to ${topic} in ${summary.elapsedMs} ms: ` +
          `${Object.entries(byKind)
            .map(([kind, n]) => `${kind} ${n}`)
            .join(', ')}\n`,
      );
    return ExitCode.ok;
  } catch (error) {
    if (
      error instanceof BridgeError &&
      (error.code === 'REGISTRY_UNAVAILABLE' || error.code === 'REGISTRY_AUTH_FAILED')
    ) {
      io.stderr.write(
        `gong-bridge produce-sample: ${error.message} (SCHEMA_REGISTRY_URL ${registryLocation(config.SCHEMA_REGISTRY_URL)})\n`,
      );
      return ExitCode.failure;
    }
    if (error instanceof BridgeError) throw error;
    const explained = explainKafkaError(error, config);
    io.stderr.write(`gong-bridge produce-sample: ${explained.message}\n`);
    return ExitCode.failure;
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

/** Where the registry is, without any credentials the URL may carry. */
function registryLocation(url: string | undefined): string {
  if (url === undefined) return 'is not set';
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'is not a URL';
  }
}
