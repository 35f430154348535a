import { randomUUID } from 'node:crypto';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { logLevel, type Admin, type Kafka, type KafkaMessage } from 'kafkajs';
import type { Settings } from '../../config/settings.ts';
import { BridgeError } from '../../errors.ts';
import {
  explainKafkaError,
  kafkaClientConfig,
  registryClientOptions,
} from '../../wiring/kafka-connection.ts';
import { kafkaClient } from '../../kafka/kafka-client.ts';
import { partitionOfKey } from '../../kafka/partitioner.ts';
import { outcomeOf, type Receipt } from '../../receipts/receipt.ts';
import { loadConfigWithWarnings } from '../command-config.ts';
import { ExitCode, parseCommandArgs, timeOption, type CliCommand, type CliIo } from '../command.ts';

const options = {
  'event-id': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  topic: { type: 'string' },
  'all-partitions': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const help = `Usage: gong-bridge receipts --event-id ID [--since TIME] [--until TIME] [options]
       gong-bridge receipts --since TIME [--until TIME] [options]

Answers "did this reach Gong?" from the receipts topic (KAFKA_RECEIPTS_TOPIC): the bridge writes
one receipt per record it settled, before it commits the record's offset, with the outcome
(DELIVERED, DUPLICATE: Gong already had it, DEAD_LETTERED with the reason), Gong's requestId, the
attempts, the first-attempt and settle times and the source topic, partition and offset.
Receipts are decoded through the schema registry. Reads only; commits no offsets.

Options:
  --event-id ID      The receipts of one event. Only the partition its key hashes to is read
                     (as the bridge's producer places it), within --since/--until if given.
  --since TIME       Receipts written at or after TIME: ISO 8601, epoch ms, or a duration ago
                     (15m, 2h, 7d). Alone, lists every receipt from then on.
  --until TIME       Receipts written at or before TIME (same forms). Default: now.
  --topic T          The receipts topic (default KAFKA_RECEIPTS_TOPIC).
  --all-partitions   With --event-id, read every partition (the topic's partition count changed
                     since the receipt was written).
  --json             One JSON object per receipt on stdout (times as ISO 8601), for jq.

A record may have more than one receipt: after a crash the bridge settles again what it had not
committed (a second DELIVERED becomes DUPLICATE, answered 409 by Gong). A record whose offset is
committed always has at least one. Receipts are kept for the topic's retention.

Progress goes to stderr; receipts to stdout. Exit codes: 0 the event reached Gong (a DELIVERED
or DUPLICATE receipt; with --since alone: the listing completed), 1 no receipt says it reached
Gong (none found, not settled yet, or only DEAD_LETTERED), 2 usage error, 3 configuration error
(no receipts topic set or it does not exist, credentials refused), 4 Kafka or the schema
registry unreachable.

Examples:
  gong-bridge receipts --since 1h
  gong-bridge receipts --since 2026-11-24T00:00:00Z --until 2026-11-25T00:00:00Z --json | jq -r .outcome
  gong-bridge receipts --event-id evt-00000001-5c0ffee0 --since 7d
`;

export const receiptsCommand: CliCommand = {
  name: 'receipts',
  summary: 'Did an event reach Gong? Read the receipts topic by eventId or time.',
  help,
  run: (argv, io) => runReceipts(argv, io),
};

/** A receipt as read back: the decoded record and where it sits in the receipts topic. */
export interface ReadReceipt {
  readonly receipt: Receipt;
  readonly partition: number;
  readonly offset: string;
  /** When the receipt was written (its Kafka timestamp), epoch ms. */
  readonly writtenAt: number;
}

interface Range {
  readonly partition: number;
  readonly start: bigint;
  readonly end: bigint;
}

interface Query {
  readonly topic: string;
  readonly eventId: string | undefined;
  readonly since: number | undefined;
  readonly until: number | undefined;
  readonly allPartitions: boolean;
}

export async function runReceipts(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(options, argv, false);
  const now = Date.now();
  const eventId = values['event-id'];
  const since = timeOption('since', values.since, now);
  const until = timeOption('until', values.until, now);
  if (eventId === undefined && since === undefined)
    throw new BridgeError('USAGE', 'give --event-id ID or --since TIME (see --help)');
  if (eventId === '') throw new BridgeError('USAGE', '--event-id must not be empty');
  const config = loadConfigWithWarnings(io, 'receipts', [
    (settings) => kafkaClientConfig(settings),
    (settings) => registryClientOptions(settings),
  ]);
  const topic = values.topic ?? config.KAFKA_RECEIPTS_TOPIC;
  if (topic === undefined) {
    throw new BridgeError(
      'CONFIG_INVALID',
      'KAFKA_RECEIPTS_TOPIC is not set, so the bridge writes no receipts: set it (as for `run`) or pass --topic',
      { context: { variable: 'KAFKA_RECEIPTS_TOPIC' } },
    );
  }
  const query: Query = { topic, eventId, since, until, allPartitions: values['all-partitions'] === true };
  const kafka = kafkaClient({ ...kafkaClientConfig(config), logLevel: logLevel.NOTHING });
  const ranges = await planRanges(kafka.admin(), query, config);
  const registry = new SchemaRegistry(registryClientOptions(config));
  const found = await readReceipts(kafka, registry, query, ranges, io, config);

  if (values.json === true) {
    for (const read of found) io.stdout.write(`${JSON.stringify(asJson(read))}\n`);
  } else {
    for (const read of found) io.stdout.write(`${asLine(read)}\n`);
  }
  const reached = found.some(({ receipt }) => receipt.outcome !== 'DEAD_LETTERED');
  io.stderr.write(`${summary(query, found, ranges)}\n`);
  if (eventId === undefined) return ExitCode.ok;
  return reached ? ExitCode.ok : ExitCode.failure;
}

/** Where to read: per partition, from the first offset at or after --since to the end at start-up. */
async function planRanges(admin: Admin, query: Query, config: Settings): Promise<Range[]> {
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    if (!existing.includes(query.topic)) {
      throw new BridgeError(
        'CONFIG_INVALID',
        `the receipts topic ${query.topic} does not exist on ${config.KAFKA_BROKERS?.join(',')}: is KAFKA_RECEIPTS_TOPIC the one the bridge runs with?`,
        { context: { variable: 'KAFKA_RECEIPTS_TOPIC' } },
      );
    }
    const ends = await admin.fetchTopicOffsets(query.topic);
    const starts =
      query.since === undefined
        ? undefined
        : await admin.fetchTopicOffsetsByTimestamp(query.topic, query.since);
    // Past --until nothing is read: the first offset written after it ends the range.
    const stops =
      query.until === undefined
        ? undefined
        : await admin.fetchTopicOffsetsByTimestamp(query.topic, query.until + 1);
    const keyed =
      query.eventId === undefined || query.allPartitions
        ? undefined
        : partitionOfKey(query.eventId, ends.length);
    return ends
      .filter((end) => keyed === undefined || end.partition === keyed)
      .map((end) => {
        const offsetIn = (list: { partition: number; offset: string }[] | undefined) =>
          list?.find((entry) => entry.partition === end.partition)?.offset;
        let start = BigInt(end.low);
        const bySince = offsetIn(starts);
        if (bySince !== undefined && BigInt(bySince) > start) start = BigInt(bySince);
        let stop = BigInt(end.high);
        const byUntil = offsetIn(stops);
        // -1: nothing written after --until; the end at start-up stands.
        if (byUntil !== undefined && BigInt(byUntil) >= 0n && BigInt(byUntil) < stop) stop = BigInt(byUntil);
        return { partition: end.partition, start, end: stop };
      });
  } catch (error) {
    throw explainKafkaError(error, config);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function readReceipts(
  kafka: Kafka,
  registry: SchemaRegistry,
  query: Query,
  ranges: readonly Range[],
  io: CliIo,
  config: Settings,
): Promise<ReadReceipt[]> {
  const pending = new Map(
    ranges.filter((range) => range.end > range.start).map((range) => [range.partition, range]),
  );
  const total = [...pending.values()].reduce((sum, range) => sum + Number(range.end - range.start), 0);
  const found: ReadReceipt[] = [];
  let read = 0;
  if (pending.size === 0) return found;
  const progress = setInterval(() => {
    io.stderr.write(
      `receipts: read ${read} of ${total} records of ${query.topic}, ${found.length} matching\n`,
    );
  }, 5_000);
  progress.unref();
  const consumer = kafka.consumer({ groupId: `gong-bridge-receipts-${randomUUID()}`, maxWaitTimeInMs: 500 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [query.topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => resolve();
      io.signal.addEventListener('abort', onAbort, { once: true });
      const done = (partition: number) => {
        pending.delete(partition);
        if (pending.size === 0) resolve();
      };
      const accept = async (partition: number, message: KafkaMessage) => {
        const writtenAt = Number(message.timestamp);
        if (query.since !== undefined && writtenAt < query.since) return;
        if (query.until !== undefined && writtenAt > query.until) return;
        // The key is the eventId: only matching receipts are decoded.
        if (query.eventId !== undefined && message.key?.toString() !== query.eventId) return;
        if (message.value === null) return;
        const receipt = (await registry.decode(message.value)) as Receipt;
        found.push({ receipt, partition, offset: message.offset, writtenAt });
      };
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const range = pending.get(partition);
            if (range === undefined || io.signal.aborted) return;
            const offset = BigInt(message.offset);
            if (offset < range.start) return;
            if (offset >= range.end) return done(partition);
            read += 1;
            try {
              await accept(partition, message);
            } catch (error) {
              reject(explainRegistryError(error));
              return;
            }
            if (offset + 1n >= range.end) done(partition);
          },
        })
        .then(() => {
          // Straight to each range's start, and nothing fetched for partitions out of range.
          for (const range of pending.values())
            consumer.seek({ topic: query.topic, partition: range.partition, offset: range.start.toString() });
          const idle = ranges
            .filter((range) => !pending.has(range.partition))
            .map((range) => range.partition);
          if (idle.length > 0) consumer.pause([{ topic: query.topic, partitions: idle }]);
        }, reject);
    });
  } catch (error) {
    throw error instanceof BridgeError ? error : explainKafkaError(error, config);
  } finally {
    clearInterval(progress);
    await consumer.disconnect().catch(() => {});
  }
  return found.sort((a, b) => a.writtenAt - b.writtenAt || a.partition - b.partition);
}

/** The registry's refusals, as for the bridge: credentials are a configuration error, the rest unavailable. */
function explainRegistryError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  const status = (error as { status?: unknown }).status;
  const detail = error instanceof Error ? error.message : String(error);
  if (status === 401 || status === 403) {
    return new BridgeError(
      'REGISTRY_AUTH_FAILED',
      `the schema registry refused the credentials (${status}) decoding a receipt: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`,
      { cause: error, context: { status, variable: 'SCHEMA_REGISTRY_PASSWORD' } },
    );
  }
  return new BridgeError(
    'REGISTRY_UNAVAILABLE',
    `the schema registry could not decode a receipt: ${detail}`,
    {
      cause: error,
    },
  );
}

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();

/** The receipt for scripts: outcome in the bridge's words, times as ISO 8601. */
export function asJson({ receipt, partition, offset, writtenAt }: ReadReceipt) {
  return {
    eventId: receipt.eventId,
    outcome: outcomeOf(receipt.outcome) ?? receipt.outcome,
    deadLetterReason: receipt.deadLetterReason,
    deadLetterTopic: receipt.deadLetterTopic,
    referenceLetter: receipt.referenceLetter,
    httpStatus: receipt.httpStatus,
    requestId: receipt.requestId,
    attempts: receipt.attempts,
    firstAttemptAt: iso(receipt.firstAttemptAt),
    settledAt: iso(receipt.settledAt),
    source: { ...receipt.source, timestamp: iso(receipt.source.timestamp) },
    schemaId: receipt.schemaId,
    bridgeVersion: receipt.bridgeVersion,
    receipt: { partition, offset, writtenAt: iso(writtenAt) },
  };
}

function asLine({ receipt }: ReadReceipt): string {
  const { source } = receipt;
  const fields = [
    iso(receipt.settledAt) ?? '-',
    receipt.outcome.padEnd(13),
    receipt.eventId ?? `(no eventId) ${source.topic}/${source.partition}/${source.offset}`,
    receipt.deadLetterReason === null ? undefined : `reason ${receipt.deadLetterReason}`,
    receipt.httpStatus === null ? undefined : `status ${receipt.httpStatus}`,
    receipt.requestId === null ? undefined : `requestId ${receipt.requestId}`,
    `attempts ${receipt.attempts}`,
    `first attempt ${iso(receipt.firstAttemptAt) ?? '-'}`,
    `source ${source.topic}/${source.partition}/${source.offset}`,
  ];
  return fields.filter((field) => field !== undefined).join('  ');
}

function summary(query: Query, found: readonly ReadReceipt[], ranges: readonly Range[]): string {
  const counts = new Map<string, number>();
  for (const { receipt } of found) counts.set(receipt.outcome, (counts.get(receipt.outcome) ?? 0) + 1);
  const byOutcome = [...counts].map(([outcome, count]) => `${outcome} ${count}`).join(', ');
  const where = ranges.map((range) => `${range.partition}:${range.start}-${range.end}`).join(' ');
  if (query.eventId === undefined)
    return `${found.length} receipts in ${query.topic}${byOutcome === '' ? '' : ` (${byOutcome})`}`;
  if (found.length === 0)
    return `no receipt for ${query.eventId} in ${query.topic} (partition:offsets read ${where}): not settled yet, or outside the window or the topic's retention`;
  const reached = found.find(({ receipt }) => receipt.outcome !== 'DEAD_LETTERED');
  if (reached === undefined)
    return `${query.eventId} did not reach Gong: dead-lettered (${found[0]!.receipt.deadLetterReason ?? 'unknown reason'}) to ${found[0]!.receipt.deadLetterTopic ?? 'the dead-letter topic'}`;
  return `${query.eventId} reached Gong: ${reached.receipt.outcome} at ${iso(reached.receipt.settledAt) ?? '-'}${
    reached.receipt.requestId === null ? '' : `, requestId ${reached.receipt.requestId}`
  } (${found.length} receipt${found.length === 1 ? '' : 's'})`;
}
