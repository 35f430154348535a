import { randomUUID } from 'node:crypto';
import { logLevel, type Kafka, type KafkaMessage } from 'kafkajs';
import { required, requireSetting } from '../../config/config.ts';
import type { Settings } from '../../config/settings.ts';
import { createDeliveryEngine } from '../../delivery/engine.ts';
import { systemClock, systemSleep } from '../../shared/time.ts';
import { BridgeError, deadLetterCodes, errorCodes, isDeadLetterCode, type ErrorCode } from '../../errors.ts';
import { createGongClient } from '../../gong/client.ts';
import { deliveryEngineSettings } from '../../wiring/delivery-engine.ts';
import { authFromConfig, gongClientOptionsFromConfig } from '../../wiring/gong-client.ts';
import { createBatchedProducer, createNonIdempotentProducer } from '../../kafka/batched-producer.ts';
import {
  explainKafkaError,
  kafkaClientConfig,
  registryClientOptions,
} from '../../wiring/kafka-connection.ts';
import { decodeFailureAction } from '../../decode/decode-policy.ts';
import type { PreparedRecord, RecordPreparer } from '../../decode/prepare.ts';
import { validateGongBody } from '../../gong/validate.ts';
import { kafkaClient } from '../../kafka/kafka-client.ts';
import { dlqHeaderPrefix, readDeadLetterHeaders } from '../../kafka/dlq.ts';
import { loadConfigWithWarnings } from '../command-config.ts';
import { needsRegistry } from '../../decode/inputs.ts';
import { createInputPipeline, createRegistryFromConfig } from '../../wiring/input-pipeline.ts';
import {
  ExitCode,
  numberOption,
  parseCommandArgs,
  timeOption,
  type CliCommand,
  type CliIo,
} from '../command.ts';
import {
  openCommandQuota,
  quotaShareHelp,
  quotaShareOption,
  resolveShare,
  type CommandQuota,
} from '../command-quota.ts';

const options = {
  'dlq-topic': { type: 'string' },
  'from-offset': { type: 'string' },
  'to-offset': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  reason: { type: 'string', multiple: true },
  'to-topic': { type: 'string' },
  concurrency: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  ...quotaShareOption,
} as const;

/** Folds words into lines of at most `width` characters (the help text's list of reasons). */
function wrap(list: string, width: number): string[] {
  const lines: string[] = [];
  for (const item of list.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + item.length <= width)
      lines[lines.length - 1] = `${last} ${item}`;
    else lines.push(item);
  }
  return lines;
}

const help = `Usage: gong-bridge replay-dlq [options]

Reads the dead-letter topic and gives its records another chance:
  - by default, re-runs the current decoding, mapping or transform, and validation on each
    record (as \`run\` would for its source topic: INPUT_FORMATS, MAPPINGS_FILE) and sends
    what is now valid to Gong through the same engine and limiter as \`run\` (retries, 429
    pauses, auth halt; with REDIS_URL the service's shared quota, the same keys and limits;
    without it --share F of the account's quota, and the day's spend kept in KAFKA_QUOTA_TOPIC
    as \`run\` keeps it). eventIds make this idempotent: an event Gong already has answers 409
    and counts as delivered.
  - with --to-topic T, republishes each record unchanged (key, value, original headers; the
    gong-bridge.* reason headers are replaced by gong-bridge.replayed-from) so a running bridge
    consumes it again.
The DLQ itself is never modified and no consumer group offsets are committed.

Options:
  --dlq-topic T        Dead-letter topic (default KAFKA_DLQ_TOPIC, or <first KAFKA_TOPICS>.dlq).
  --from-offset N      Start at offset N in every partition (default: the beginning).
  --to-offset N        Stop before offset N in every partition (default: the end at start-up).
  --since TIME         Start at the first record at or after TIME (ISO 8601, epoch ms, or ago: 2h).
  --until TIME         Stop at records after TIME.
  --reason CODE        Only records whose gong-bridge.reason is CODE; repeat for several:
                       ${wrap(`${deadLetterCodes.join(', ')}.`, 72).join('\n                       ')}
  --to-topic T         Republish instead of sending to Gong.
  --concurrency N      Deliveries in flight (default 8).
${quotaShareHelp(23)}
  --dry-run            Read and classify, send nothing.
  --json               Print the summary as JSON on stdout.

Reference letters (reason DEAD_LETTER_TOO_LARGE) carry no value: they are counted as not
replayable, with where the original record is (its source topic, partition and offset).

Progress lines go to stderr; the summary ends the run. Exit codes: 0 every selected record was
delivered or republished, 1 some are still invalid or not replayable, 2 usage error, 3
configuration error (every missing setting at once; also Kafka credentials or certificates the
brokers refuse, a schema registry that refuses the credentials, a --to-topic that refuses
writes), 4 Kafka or the schema registry unreachable.

Examples:
  REDIS_URL=redis://redis:6379 gong-bridge replay-dlq --reason GONG_INVALID --since 2026-11-24T00:00:00Z
  gong-bridge replay-dlq --reason GONG_REJECTED --share 0.2
  gong-bridge replay-dlq --reason UNKNOWN_SCHEMA_ID --to-topic interactions
`;

export interface ReplaySummary {
  read: number;
  selected: number;
  delivered: number;
  duplicates: number;
  republished: number;
  stillInvalid: number;
  /** Reference letters: no value to replay; the original is in its source topic. */
  notReplayable: number;
  byReason: Record<string, number>;
  elapsedMs: number;
}

export const replayDlqCommand: CliCommand = {
  name: 'replay-dlq',
  summary: 'Re-send dead letters that are now valid, or republish them to a source topic.',
  help,
  run: (argv, io) => runReplayDlq(argv, io),
};

/** The command line and the settings, checked before anything connects. */
function readReplayOptions(argv: string[], io: CliIo) {
  const { values } = parseCommandArgs(options, argv, false);
  // A usage error is reported before the configuration is looked at.
  const reasons = new Set(values.reason ?? []);
  for (const reason of reasons) {
    if (isDeadLetterCode(reason)) continue;
    const why = errorCodes.includes(reason as ErrorCode)
      ? 'records are never dead-lettered for that'
      : 'that is not a dead-letter reason';
    throw new BridgeError(
      'USAGE',
      `--reason ${reason}: ${why}; the reasons are ${deadLetterCodes.join(', ')}`,
    );
  }
  const sendsToGong = values['to-topic'] === undefined && values['dry-run'] !== true;
  const config = loadConfigWithWarnings(io, 'replay-dlq', [
    (settings) => kafkaClientConfig(settings),
    ...(values['dlq-topic'] === undefined ? required('KAFKA_TOPICS') : []),
    (settings) =>
      needsRegistry(settings.KAFKA_TOPICS, settings.INPUT_FORMATS)
        ? registryClientOptions(settings)
        : undefined,
    ...(sendsToGong ? [(settings: Settings) => authFromConfig(settings)] : []),
  ]);
  const offsetOption = (name: 'from-offset' | 'to-offset') =>
    values[name] === undefined ? undefined : BigInt(numberOption(name, values[name], 0, 0));
  const toTopic = values['to-topic'];
  const dryRun = values['dry-run'] === true;
  // Quota flags are checked before anything is read or sent.
  if (toTopic === undefined && !dryRun) resolveShare({ command: 'replay-dlq', config, share: values.share });
  return {
    config,
    reasons,
    dlqTopic:
      values['dlq-topic'] ?? config.KAFKA_DLQ_TOPIC ?? `${requireSetting(config, 'KAFKA_TOPICS')[0]}.dlq`,
    fromOffset: offsetOption('from-offset'),
    toOffset: offsetOption('to-offset'),
    since: timeOption('since', values.since, Date.now()),
    until: timeOption('until', values.until, Date.now()),
    concurrency: Math.floor(numberOption('concurrency', values.concurrency, 8, 1)),
    toTopic,
    dryRun,
    share: values.share,
    json: values.json === true,
  };
}

type ReplayOptions = ReturnType<typeof readReplayOptions>;

interface ReplayRange {
  partition: number;
  start: bigint;
  end: bigint;
}

/** Where to start and stop in each partition, fixed before reading so the run ends. */
async function replayRanges(kafka: Kafka, run: ReplayOptions): Promise<ReplayRange[]> {
  const { dlqTopic, fromOffset, toOffset, since } = run;
  const admin = kafka.admin();
  try {
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(dlqTopic);
    const sinceOffsets =
      since === undefined ? undefined : await admin.fetchTopicOffsetsByTimestamp(dlqTopic, since);
    return ends.map((end) => {
      let start = BigInt(end.low);
      if (fromOffset !== undefined && fromOffset > start) start = fromOffset;
      const bySince = sinceOffsets?.find((entry) => entry.partition === end.partition);
      if (bySince !== undefined && BigInt(bySince.offset) > start) start = BigInt(bySince.offset);
      let stop = BigInt(end.high);
      if (toOffset !== undefined && toOffset < stop) stop = toOffset;
      return { partition: end.partition, start, end: stop };
    });
  } catch (error) {
    throw explainKafkaError(error, run.config);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Where the selected dead letters go: the preparer and the engine (as `run` has them), or the
 * republishing producer for --to-topic; a dry run gets the preparer only. close() ends them all.
 */
async function createReplayTargets(kafka: Kafka, run: ReplayOptions, io: CliIo) {
  const { config, toTopic, dryRun } = run;
  const clock = systemClock;
  const sleep = systemSleep;
  const engineSettings = deliveryEngineSettings(config);
  // Dead letters are read as their source topic is (gong-bridge.source-topic): its format and
  // its mappings, as `run` has them now.
  let preparer: RecordPreparer | undefined;
  const registry = toTopic === undefined ? createRegistryFromConfig(config) : undefined;
  if (toTopic === undefined) {
    try {
      const namedTopics = (config.INPUT_FORMATS ?? [])
        .filter((entry) => entry.includes(':'))
        .map((entry) => entry.slice(0, entry.lastIndexOf(':')));
      const pipeline = await createInputPipeline(config, {
        topics: config.KAFKA_TOPICS ?? namedTopics,
        registry,
        validate: engineSettings.validate ?? validateGongBody,
        onWarning: (message) => io.stderr.write(`gong-bridge replay-dlq: warning: ${message}\n`),
      });
      preparer = pipeline.preparer;
    } catch (error) {
      registry?.close();
      throw error;
    }
  }
  let quota: CommandQuota | undefined;
  try {
    quota =
      toTopic === undefined && !dryRun
        ? await openCommandQuota({ command: 'replay-dlq', config, share: run.share, clock, sleep, io })
        : undefined;
  } catch (error) {
    registry?.close();
    throw error;
  }
  const limiter = quota?.limiter;
  const client =
    limiter === undefined ? undefined : createGongClient(gongClientOptionsFromConfig(config, clock));
  const engine =
    limiter === undefined || client === undefined
      ? undefined
      : createDeliveryEngine({ client, limiter, clock, sleep, ...engineSettings });
  // Concurrent republishing goes through one serialized, batched, non-idempotent producer, as
  // dead letters do: an idempotent one could acknowledge a record it dropped (batched-producer.ts).
  // A target that refuses every write ends the run instead of probing.
  const producer = toTopic === undefined || dryRun ? undefined : createNonIdempotentProducer(kafka);
  const republisher =
    producer === undefined || toTopic === undefined
      ? undefined
      : createBatchedProducer({ producer, topic: toTopic, clock, sleep, onHalt: 'fail' });
  await producer?.connect();
  return {
    preparer,
    engine,
    republisher,
    async close() {
      republisher?.close();
      registry?.close();
      await producer?.disconnect().catch(() => {});
      engine?.close();
      await client?.close().catch(() => {});
      await quota?.close().catch(() => {});
    },
  };
}

/** The summary at the end of the run: JSON on stdout with --json, lines on stderr otherwise. */
function printSummary(summary: ReplaySummary, run: ReplayOptions, io: CliIo): void {
  if (run.json) {
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  io.stderr.write(
    [
      `read          ${summary.read}`,
      `selected      ${summary.selected}`,
      ...(run.toTopic === undefined
        ? [`delivered     ${summary.delivered}`, `duplicates    ${summary.duplicates}`]
        : [`republished   ${summary.republished} to ${run.toTopic}`]),
      `still invalid ${summary.stillInvalid}`,
      ...(summary.notReplayable === 0 ? [] : [`not replayable ${summary.notReplayable}`]),
      ...Object.entries(summary.byReason).map(([reason, n]) => `  ${reason}: ${n}`),
      '',
    ].join('\n'),
  );
}

export async function runReplayDlq(argv: string[], io: CliIo): Promise<number> {
  const run = readReplayOptions(argv, io);
  const { config, reasons, dlqTopic, until, concurrency, toTopic, dryRun } = run;
  const clock = systemClock;
  const sleep = systemSleep;
  const kafka = kafkaClient({ ...kafkaClientConfig(config), logLevel: logLevel.NOTHING });
  const summary: ReplaySummary = {
    read: 0,
    selected: 0,
    delivered: 0,
    duplicates: 0,
    republished: 0,
    stillInvalid: 0,
    notReplayable: 0,
    byReason: {},
    elapsedMs: 0,
  };
  const started = clock.now();

  const ranges = await replayRanges(kafka, run);
  const pending = new Map(
    ranges.filter((range) => range.end > range.start).map((range) => [range.partition, range]),
  );

  const { preparer, engine, republisher, close } = await createReplayTargets(kafka, run, io);

  const tally = (bucket: string) => {
    summary.byReason[bucket] = (summary.byReason[bucket] ?? 0) + 1;
  };

  /** Prepares as `run` does: waits out what decode-policy.ts retries; a halt ends the run. */
  async function prepare(topic: string, value: Buffer | null): Promise<PreparedRecord> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await preparer!.prepare({ topic, value });
      } catch (error) {
        // Refused credentials (a halt for `run`) cannot get better while a one-shot command waits.
        if (decodeFailureAction(error) !== 'retry' || io.signal.aborted) throw error;
        await sleep(Math.min(10_000, 500 * 2 ** attempt), io.signal).catch(() => {});
      }
    }
  }

  async function replayOne(partition: number, message: KafkaMessage): Promise<void> {
    const ours = readDeadLetterHeaders(message.headers);
    if (ours['gong-bridge.reason'] === 'DEAD_LETTER_TOO_LARGE') {
      summary.notReplayable += 1;
      tally(
        `not replayable (DEAD_LETTER_TOO_LARGE: the original is at ${ours['gong-bridge.source-topic']}/` +
          `${ours['gong-bridge.source-partition']}/${ours['gong-bridge.source-offset']})`,
      );
      return;
    }
    if (toTopic !== undefined) {
      if (dryRun || republisher === undefined) return;
      const headers: Record<string, Buffer | string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        if (name.startsWith(dlqHeaderPrefix) || value === undefined) continue;
        headers[name] = Array.isArray(value) ? value[0]! : value;
      }
      headers[`${dlqHeaderPrefix}replayed-from`] = `${dlqTopic}/${partition}/${message.offset}`;
      try {
        await republisher.send({ key: message.key, value: message.value, headers });
      } catch (error) {
        if (!(error instanceof BridgeError && error.code === 'PRODUCE_TOO_LARGE')) throw error;
        summary.stillInvalid += 1;
        tally(`not republished: too large for ${toTopic}`);
        return;
      }
      summary.republished += 1;
      return;
    }
    // The validation the service applies (limits, inferred rules), also for a dry run.
    const prepared = await prepare(ours['gong-bridge.source-topic'] ?? '', message.value ?? null);
    if (!prepared.ok) {
      summary.stillInvalid += 1;
      tally(`still ${prepared.deadLetter.reason}`);
      return;
    }
    if (dryRun || engine === undefined) {
      tally(`now valid (was ${ours['gong-bridge.reason'] ?? 'unknown'})`);
      return;
    }
    const outcome = await engine.deliver(prepared.body, { signal: io.signal });
    if (outcome.kind === 'delivered') summary.delivered += 1;
    else if (outcome.kind === 'duplicate') summary.duplicates += 1;
    else {
      summary.stillInvalid += 1;
      tally(outcome.kind === 'rejected' ? `still GONG_REJECTED (${outcome.status})` : 'still GONG_INVALID');
    }
  }

  const progress = setInterval(() => {
    io.stderr.write(
      `replay-dlq: read ${summary.read} selected ${summary.selected} delivered ${summary.delivered} ` +
        `duplicates ${summary.duplicates} republished ${summary.republished} still invalid ${summary.stillInvalid}\n`,
    );
  }, 5_000);
  progress.unref();

  const consumer = kafka.consumer({ groupId: `gong-bridge-replay-${randomUUID()}`, maxWaitTimeInMs: 500 });
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  try {
    if (pending.size > 0) {
      await consumer.connect();
      await consumer.subscribe({ topics: [dlqTopic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => resolve();
        io.signal.addEventListener('abort', onAbort, { once: true });
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const range = pending.get(partition);
              if (range === undefined || failure !== undefined || io.signal.aborted) return;
              const offset = BigInt(message.offset);
              if (offset < range.start) return;
              if (offset >= range.end) {
                pending.delete(partition);
                if (pending.size === 0) resolve();
                return;
              }
              summary.read += 1;
              const reason = readDeadLetterHeaders(message.headers)['gong-bridge.reason'];
              const time = Number(message.timestamp);
              const selected =
                (reasons.size === 0 || (reason !== undefined && reasons.has(reason))) &&
                (until === undefined || time <= until);
              if (selected) {
                summary.selected += 1;
                const task: Promise<void> = replayOne(partition, message)
                  .catch((error: unknown) => {
                    failure ??= error;
                    reject(error);
                  })
                  .finally(() => inFlight.delete(task));
                inFlight.add(task);
                while (inFlight.size >= concurrency) await Promise.race(inFlight);
              }
              if (offset + 1n >= range.end) {
                pending.delete(partition);
                if (pending.size === 0) resolve();
              }
            },
          })
          .then(() => {
            for (const range of pending.values())
              consumer.seek({ topic: dlqTopic, partition: range.partition, offset: range.start.toString() });
          }, reject);
      });
    }
    await Promise.all(inFlight);
  } catch (error) {
    failure ??= error;
  } finally {
    clearInterval(progress);
    await consumer.disconnect().catch(() => {});
    await close();
  }
  if (failure !== undefined && !(failure instanceof BridgeError && failure.code === 'SHUTTING_DOWN')) {
    if (
      failure instanceof BridgeError &&
      (failure.code === 'REGISTRY_AUTH_FAILED' || failure.code === 'TOPIC_UNWRITABLE')
    ) {
      io.stderr.write(`gong-bridge replay-dlq: ${failure.message}\n`);
      return ExitCode.config;
    }
    throw failure instanceof BridgeError ? failure : explainKafkaError(failure, config);
  }
  summary.elapsedMs = Math.round(clock.now() - started);
  printSummary(summary, run, io);
  return summary.stillInvalid === 0 && summary.notReplayable === 0 ? ExitCode.ok : ExitCode.failure;
}
