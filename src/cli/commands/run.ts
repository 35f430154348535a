import { existsSync } from 'node:fs';
import { logLevel, type Kafka, type LogEntry } from 'kafkajs';
import { awaitGroupCoordinator } from '../../kafka/group-coordinator.ts';
import { kafkaClient } from '../../kafka/kafka-client.ts';
import type { Logger } from 'pino';
import { required, requireSetting, type ConfigCheck } from '../../config/config.ts';
import type { Settings } from '../../config/settings.ts';
import { createDeliveryEngine, type DeliveryEngine } from '../../delivery/engine.ts';
import type { ObservableRateLimiter } from '../../delivery/limiter-types.ts';
import { createRateLimiter } from '../../delivery/rate-limit/index.ts';
import { systemClock, systemSleep, type Clock, type Sleep } from '../../shared/time.ts';
import { BridgeError } from '../../errors.ts';
import { createGongClient, type GongClient } from '../../gong/client.ts';
import {
  explainKafkaError,
  kafkaClientConfig,
  registryClientOptions,
} from '../../wiring/kafka-connection.ts';
import {
  createBatchedProducer,
  createNonIdempotentProducer,
  type ProducerSendFailure,
} from '../../kafka/batched-producer.ts';
import { createDlqWriter, dlqProducerOptions, ensureDlqTopic } from '../../kafka/dlq.ts';
import { RuntimeEvents } from '../../kafka/events.ts';
import type { QuotaLedger } from '../../kafka/quota-ledger.ts';
import { ledgerFromConfig } from '../../wiring/quota-ledger.ts';
import { createRuntime, type Runtime } from '../../kafka/runtime.ts';
import { ensureReceiptsTopic } from '../../receipts/writer.ts';
import { receiptsFromConfig } from '../../wiring/receipts.ts';
import { chooseLogFormat, createLogger, runsInContainer } from '../../observability/logger.ts';
import { routeProcessWarnings, type WarningSource } from '../../observability/process-warnings.ts';
import { startObservability } from '../../observability/start.ts';
import type { RecordPreparer } from '../../decode/prepare.ts';
import { validateGongBody } from '../../gong/validate.ts';
import type { Inputs } from '../../decode/inputs.ts';
import { version } from '../../version.ts';
import { deliveryEngineSettings } from '../../wiring/delivery-engine.ts';
import { authFromConfig, gongClientOptionsFromConfig } from '../../wiring/gong-client.ts';
import { loadCommandConfig } from '../command-config.ts';
import { needsRegistry } from '../../decode/inputs.ts';
import { createInputPipeline, createRegistryFromConfig } from '../../wiring/input-pipeline.ts';
import { ExitCode, exitCodeByError, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';

const help = `Usage: gong-bridge run

Runs the bridge: a Kafka consumer group reads interaction events, delivers each to Gong's
POST /v2/digital-interaction through the delivery engine, sends poison records and Gong
rejections to the dead-letter topic, and commits an offset only once its record is delivered
(200/409) or acknowledged by the dead-letter topic. Canonical events (Avro, Confluent framing,
schema registry) need no configuration; other events (any Avro writer schema, JSON Schema,
Protobuf, schemaless JSON; INPUT_FORMATS per topic) are built into Gong's body by the mappings in
MAPPINGS_FILE (docs/mappings.md), compiled at start-up.

All settings come from the environment (see docs/reference/configuration.md); required:
  KAFKA_BROKERS, KAFKA_TOPICS, SCHEMA_REGISTRY_URL (unless every topic is schemaless json), and
  Gong credentials (GONG_ACCESS_KEY + GONG_ACCESS_KEY_SECRET, or GONG_BEARER_TOKEN[_FILE]).
Useful: KAFKA_GROUP_ID (gong-bridge), KAFKA_DLQ_TOPIC (<first topic>.dlq, created if missing),
  INPUT_FORMATS, MAPPINGS_FILE, KAFKA_RECEIPTS_TOPIC (a receipt per settled record, created if
  missing; unset: none), MAX_IN_FLIGHT, MAX_BUFFERED, COMMIT_INTERVAL_MS, COMMIT_MAX_PENDING,
  SHUTDOWN_TIMEOUT_MS, GONG_RATE_PER_SECOND.

Stops on SIGTERM/SIGINT: fetching stops, in-flight records get SHUTDOWN_TIMEOUT_MS to settle,
settled offsets are committed, exit 0. Signals within 3 s of the first are the same request (a
terminal's Ctrl-C and a wrapper's SIGTERM); one after that exits at once (130), which is safe:
nothing past the last settled record was ever committed.

Exit codes: 0 stopped on a signal, 3 configuration error (every problem is listed at once,
including an input topic that does not exist, Kafka credentials or certificates the brokers
refuse, and a mapping file that cannot work, naming the file, line, mapping and expression),
4 Kafka unreachable or the consumer crashed.

Example:
  KAFKA_BROKERS=localhost:9092 KAFKA_TOPICS=interactions \\
  SCHEMA_REGISTRY_URL=http://localhost:8081 GONG_ACCESS_KEY=... GONG_ACCESS_KEY_SECRET=... \\
  gong-bridge run
`;

/** Exit code when Kafka cannot be reached or the consumer stops for good. */
export const kafkaFailureExitCode = 4;

/**
 * How long start-up waits for a group coordinator that is still loading before the consumer joins
 * anyway (kafkajs then retries on its own). Seconds is normal; this only bounds a slow load.
 */
const coordinatorWaitMs = 30_000;

/** Everything `run` builds, in one place, so tests and observability can reach each part. */
export interface RunGraph {
  readonly config: Settings;
  readonly logger: Logger;
  readonly kafka: Kafka;
  /**
   * The same brokers with few retries, for start-up checks and periodic polls (consumer lag):
   * a poll in flight must not hold shutdown for kafkajs' minute of backoff when Kafka is gone.
   */
  readonly quickKafka: Kafka;
  readonly limiter: ObservableRateLimiter;
  readonly client: GongClient;
  readonly engine: DeliveryEngine;
  readonly runtime: Runtime;
  readonly dlqTopic: string;
  /** KAFKA_RECEIPTS_TOPIC, when receipts are on. */
  readonly receiptsTopic: string | undefined;
  /** Each topic's format and the mappings, once runtime.start() has loaded them. */
  inputs(): Inputs | undefined;
  /** Keeps the day's spend in KAFKA_QUOTA_TOPIC when the limiter counts it here (no Redis). */
  readonly ledger: QuotaLedger | undefined;
  /** Releases everything start() acquired, after runtime.stop(). */
  close(): Promise<void>;
}

export interface RunDependencies {
  readonly clock: Clock;
  readonly sleep: Sleep;
}

export function buildRunGraph(config: Settings, deps: RunDependencies, logger: Logger): RunGraph {
  const { clock, sleep } = deps;
  const topics = requireSetting(config, 'KAFKA_TOPICS');
  const dlqTopic = config.KAFKA_DLQ_TOPIC ?? `${topics[0]}.dlq`;
  const groupId = config.KAFKA_GROUP_ID;
  const kafkaLog = logger.child({ component: 'kafkajs' });
  const kafka = kafkaClient({
    ...kafkaClientConfig(config),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...fields } = log;
        if (level <= logLevel.ERROR) kafkaLog.error(fields, message);
        else kafkaLog.warn(fields, message);
      },
  });
  const limiter = createRateLimiter(config, {
    clock,
    sleep,
    logger: logger.child({ component: 'limiter' }),
  });
  const client = createGongClient(gongClientOptionsFromConfig(config, clock));
  const engineSettings = deliveryEngineSettings(config);
  const engine = createDeliveryEngine({ client, limiter, clock, sleep, ...engineSettings });
  const engineValidator = engineSettings.validate ?? validateGongBody;
  const registry = createRegistryFromConfig(config);
  // The mappings are loaded by start() (the registry has the writer schemas to check them
  // against); records only arrive after it.
  let inputs: Inputs | undefined;
  let loaded: RecordPreparer | undefined;
  const preparer: RecordPreparer = {
    halts: registry?.halts,
    prepare(record) {
      if (loaded === undefined)
        throw new BridgeError('INTERNAL', 'a record arrived before start-up loaded the inputs');
      return loaded.prepare(record);
    },
  };
  const events = new RuntimeEvents();
  const reportFailure =
    (event: 'dlq-write-failed' | 'receipt-write-failed') => (failure: ProducerSendFailure) =>
      events.emit(event, {
        error: failure.error,
        outcome: failure.outcome,
        matched: failure.matched,
        attempt: failure.attempt,
        messages: failure.messages,
        retryInMs: failure.retryInMs,
      });
  // Not idempotent, one request at a time, waiting letters batched: batched-producer.ts says why.
  // Dead letters and receipts share the kafkajs producer; each topic has its own batches.
  const producer = createNonIdempotentProducer(kafka);
  const dlqProducer = createBatchedProducer({
    ...dlqProducerOptions,
    producer,
    topic: dlqTopic,
    clock,
    sleep,
    onFailure: reportFailure('dlq-write-failed'),
  });
  const dlq = createDlqWriter({ producer: dlqProducer, version, wallNow: () => clock.wallNow() });
  const receiptsWiring = receiptsFromConfig(config, {
    producer,
    clock,
    sleep,
    onFailure: reportFailure('receipt-write-failed'),
    bridgeVersion: version,
    deadLetterTopic: dlqTopic,
  });
  const receipts = receiptsWiring?.writer;
  // New-generation batches wait for the revoke without heartbeating; stay well inside the session.
  const revokeTimeoutMs = Math.min(
    10_000,
    config.SHUTDOWN_TIMEOUT_MS,
    Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 2),
  );
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
    // How long the coordinator holds a rebalance open for members to rejoin. A live member
    // rejoins within a heartbeat plus its revoke; a dead one is dropped when its session ends.
    // kafkajs' 60 s would let one stuck member hold the whole group that long.
    rebalanceTimeout: Math.max(config.KAFKA_SESSION_TIMEOUT_MS, revokeTimeoutMs + 10_000),
    // Kafka's advice: a third of the session timeout at most, so two lost heartbeats are survivable.
    heartbeatInterval: Math.max(500, Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 10)),
    allowAutoTopicCreation: false,
    // A fetch per partition (a few hundred records) stays small next to MAX_BUFFERED, so the
    // backpressure pause bounds memory closely.
    maxBytesPerPartition: 262_144,
    // kafkajs sleeps this long whenever every partition is paused, i.e. after each backpressure
    // pause: at 500 ms the pipeline sat idle after every drain (3.5k/s against the sandbox); at
    // 100 ms it keeps up with it (about 7k/s, bench/pipeline.bench.ts).
    maxWaitTimeInMs: 100,
  });
  const runtime = createRuntime({
    consumer,
    topics,
    preparer,
    engine,
    dlq,
    receipts,
    limiter,
    clock,
    sleep,
    maxInFlight: config.MAX_IN_FLIGHT,
    maxBuffered: config.MAX_BUFFERED,
    commitIntervalMs: config.COMMIT_INTERVAL_MS,
    commitMaxPending: config.COMMIT_MAX_PENDING,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    revokeTimeoutMs,
    events,
  });
  // Start-up checks use few retries: an unreachable broker or a wrong address should fail in
  // seconds with a clear message, not after kafkajs' minute of backoff (the orchestrator restarts
  // us). The consumer and producer keep the patient retries for trouble once running.
  const quickKafka = kafkaClient({
    ...kafkaClientConfig(config),
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 },
    logLevel: logLevel.NOTHING,
  });
  const admin = quickKafka.admin();
  // Ends a start-up wait when the bridge is stopped before it has started.
  const starting = new AbortController();
  const ledger = ledgerFromConfig(config, {
    kafka: quickKafka,
    producer,
    clock,
    sleep,
    logger: logger.child({ component: 'quota-ledger' }),
  });
  let producerConnected = false;
  const originalStart = runtime.start.bind(runtime);
  const wrapped: Runtime = {
    ...runtime,
    async start() {
      // Formats and mappings first: a mapping that cannot work is a configuration error (exit 3)
      // whatever the brokers say. The engine's validator applies before the engine too.
      const pipeline = await createInputPipeline(config, {
        topics,
        registry,
        validate: engineValidator,
        onWarning: (message) => logger.warn({ event: 'config-warning', variable: 'MAPPINGS_FILE' }, message),
      });
      inputs = pipeline.inputs;
      loaded = pipeline.preparer;
      logInputs(logger, pipeline.inputs);
      // The DLQ must exist and accept writes before the first record could need it.
      await admin.connect();
      try {
        // kafkajs would report a missing input topic as "This server does not host this
        // topic-partition", which reads like an outage; and the DLQ should not be created for a
        // typo.
        const existing = await admin.listTopics();
        const missing = topics.filter((topic) => !existing.includes(topic));
        if (missing.length > 0) {
          throw new BridgeError(
            'CONFIG_INVALID',
            `KAFKA_TOPICS: ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist on ${config.KAFKA_BROKERS?.join(',')}`,
            { context: { variable: 'KAFKA_TOPICS' } },
          );
        }
        await ensureDlqTopic(admin, dlqTopic, config.MAX_RECORD_BYTES);
        if (receipts !== undefined) await ensureReceiptsTopic(admin, receipts.topic);
        // On a broker that has just started, the group coordinator is still creating or loading
        // __consumer_offsets; a consumer joining then crashes and restarts with an alarming
        // "The coordinator is loading" error. Waiting for it keeps that normal state quiet.
        const coordinator = await awaitGroupCoordinator(admin, groupId, {
          timeoutMs: coordinatorWaitMs,
          clock,
          sleep,
          signal: starting.signal,
          onWaiting: (kind) =>
            logger.info(
              { event: 'coordinator-starting', groupId, kind },
              'waiting for the group coordinator, which is still starting (normal right after a broker starts)',
            ),
        });
        if (!coordinator.ready)
          logger.warn(
            {
              event: 'coordinator-starting',
              groupId,
              kind: coordinator.last,
              waitedMs: coordinator.waitedMs,
            },
            'the group coordinator is still starting; starting the consumer anyway (it retries)',
          );
      } finally {
        await admin.disconnect();
      }
      // The receipt schema is registered before the first record could settle: a registry that
      // refuses it (credentials, an incompatible schema under the subject) stops the start here.
      await receipts?.prepare();
      await producer.connect();
      producerConnected = true;
      // The day's spend must be known before the first call; each replica takes its share of it.
      await ledger?.attach(limiter, 1 / Math.max(1, config.GONG_EXPECTED_REPLICAS));
      await originalStart();
    },
  };
  return {
    config,
    logger,
    kafka,
    quickKafka,
    limiter,
    client,
    engine,
    runtime: wrapped,
    dlqTopic,
    receiptsTopic: receipts?.topic,
    inputs: () => inputs,
    ledger,
    async close() {
      starting.abort();
      engine.close();
      dlqProducer.close();
      receiptsWiring?.producer.close();
      registry?.close();
      // After runtime.stop(): no call is in flight, so the last write holds the whole day.
      await ledger?.close();
      if (producerConnected) await producer.disconnect().catch(() => {});
      await client.close().catch(() => {});
      await limiter.close().catch(() => {});
    },
  };
}

/** One line per topic and per mapping, so the log says what this process reads and how. */
function logInputs(logger: Logger, inputs: Inputs): void {
  const log = logger.child({ component: 'inputs' });
  for (const [topic, format] of inputs.formats)
    log.info({ event: 'input', topic, format: format.name }, `topic ${topic} is read as ${format.name}`);
  for (const mapping of inputs.mappings?.mappings ?? []) {
    log.info(
      {
        event: 'mapping',
        mapping: mapping.name,
        match: mapping.match,
        checkedAgainst: mapping.knownFields?.source ?? null,
        interpretedFields: mapping.interpretedFields,
      },
      mapping.interpretedFields.length === 0
        ? `mapping ${mapping.name} loaded`
        : `mapping ${mapping.name} loaded; ${mapping.interpretedFields.join(', ')} run on JSONata's interpreter (slower)`,
    );
  }
}

/** Log lines an operator acts on; per-record lines only at debug. */
function bindRuntimeLogs(events: RuntimeEvents, logger: Logger): void {
  const log = logger.child({ component: 'runtime' });
  events.on('ready-state', (state) => log.info({ event: 'ready-state', ...state }, `ready=${state.ready}`));
  events.on('rebalance', (event) => log.info({ event: 'rebalance', ...event }, `rebalance ${event.phase}`));
  events.on('paused', (event) =>
    log.info({ event: 'paused', ...event }, `fetching paused (${event.reason})`),
  );
  events.on('resumed', (event) => log.info({ event: 'resumed', ...event }, 'fetching resumed'));
  // The cause (auth-failed, quota-exhausted) is already a warn line from the engine and limiter
  // bindings; this one only says what the consumer does about it, so it must not page twice.
  // Gong auth and the quota are already a warn line from the engine and limiter bindings; a halt
  // of the runtime's own dependencies (the DLQ, the registry) has no other line, so it warns here.
  events.on('halted', (event) => {
    const fields = { event: 'halted', ...event };
    if (event.reason === 'dlq')
      log.error(
        fields,
        'the dead-letter topic refuses writes: delivery halted, probing until a write succeeds',
      );
    else if (event.reason === 'receipts')
      log.error(fields, 'the receipts topic refuses writes: delivery halted, probing until a write succeeds');
    else if (event.reason === 'registry-auth')
      log.error(fields, 'the schema registry refuses the credentials: delivery halted, probing');
    else log.info(fields, `consumer holds its records (${event.reason})`);
  });
  events.on('unhalted', (event) => log.info({ event: 'unhalted', ...event }, `halt over (${event.reason})`));
  events.on('commit-failed', (event) =>
    log.warn({ event: 'commit-failed', ...event }, 'commit failed; retried'),
  );
  events.on('registry-unavailable', (event) =>
    log.warn(
      { event: 'registry-unavailable', ...event },
      event.code === 'SCHEMA_ID_NOT_FOUND_YET'
        ? 'the registry does not know the schema id yet; the record waits'
        : 'schema registry unavailable; the record waits',
    ),
  );
  events.on('dlq-write-failed', (event) =>
    log.warn(
      { event: 'dlq-write-failed', ...event },
      event.outcome === 'too-large'
        ? 'dead letter too large for the topic; splitting the batch or writing a reference letter'
        : 'dead-letter write failed; retrying',
    ),
  );
  events.on('receipt-write-failed', (event) =>
    log.warn(
      { event: 'receipt-write-failed', ...event },
      event.outcome === 'too-large'
        ? "receipts refused for their size: a batch is split; a single receipt refused means the receipts topic's max.message.bytes is too small (retried)"
        : 'receipt write failed; retrying',
    ),
  );
  events.on('internal-error', (event) =>
    log.error({ event: 'internal-error', ...event }, 'bug: unexpected error while processing a record'),
  );
  events.on('crashed', (event) => log.fatal({ event: 'crashed', ...event }, 'consumer crashed'));
  events.on('dead-lettered', (event) =>
    log.debug({ event: 'dead-lettered', ...event }, `dead-lettered (${event.reason})`),
  );
  events.on('committed', (event) => log.debug({ event: 'committed', ...event }, 'committed'));
}

export const runCommand: CliCommand = {
  name: 'run',
  summary: 'Run the bridge: consume from Kafka, deliver to Gong, dead-letter, commit.',
  help,
  run: (argv, io) => runBridge(argv, io, { clock: systemClock, sleep: systemSleep }),
};

/** What `run` cannot start without, checked together so one run names every missing piece. */
export const runConfigChecks: readonly ConfigCheck[] = [
  (config) => kafkaClientConfig(config),
  ...required('KAFKA_TOPICS'),
  // Only topics read as schemaless json do without the registry (its credentials are checked
  // whenever it is set); receipts always need it, their schema is registered there.
  (config) =>
    needsRegistry(config.KAFKA_TOPICS, config.INPUT_FORMATS) ||
    config.KAFKA_RECEIPTS_TOPIC !== undefined ||
    config.SCHEMA_REGISTRY_URL !== undefined
      ? registryClientOptions(config)
      : undefined,
  (config) => authFromConfig(config),
];

export async function runBridge(argv: string[], io: CliIo, deps: RunDependencies): Promise<number> {
  parseCommandArgs({}, argv, false);
  const { config, warnings } = loadCommandConfig(io, 'run', runConfigChecks);
  const format = chooseLogFormat(config.LOG_FORMAT, {
    isTerminal: io.stdout.isTTY === true,
    inContainer: runsInContainer(io.env, existsSync),
  });
  const logger = createLogger({
    config,
    format,
    colour: format === 'pretty' && (io.env.NO_COLOR ?? '') === '',
  });
  for (const warning of warnings)
    logger.warn({ event: 'config-warning', variable: warning.variable }, warning.message);
  const restoreWarnings = routeProcessWarnings(process as unknown as WarningSource, logger);
  const graph = buildRunGraph(config, deps, logger);
  const { runtime } = graph;
  bindRuntimeLogs(runtime.events, logger);

  // Above start() so /healthz answers while the group is still joining; closed after stop().
  const observability = await startObservability({
    config,
    logger,
    ...deps,
    engine: graph.engine,
    limiter: graph.limiter,
    runtime,
    lag: {
      admin: graph.quickKafka.admin(),
      groupId: config.KAFKA_GROUP_ID,
      topics: requireSetting(config, 'KAFKA_TOPICS'),
      intervalMs: config.LAG_POLL_INTERVAL_MS,
    },
    signal: io.signal,
  });

  const stopped = new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  let exitCode: number = ExitCode.ok;
  try {
    try {
      await Promise.race([runtime.start(), stopped]);
    } catch (error) {
      throw explainKafkaError(error, config);
    }
    logger.info(
      {
        event: 'started',
        topics: config.KAFKA_TOPICS,
        groupId: config.KAFKA_GROUP_ID,
        dlqTopic: graph.dlqTopic,
        ...(graph.receiptsTopic === undefined ? {} : { receiptsTopic: graph.receiptsTopic }),
      },
      'gong-bridge running',
    );
    await Promise.race([stopped, runtime.crashed]);
    logger.info({ event: 'stopping', stats: runtime.stats() }, 'stopping: draining in-flight records');
  } catch (error) {
    const explained = explainKafkaError(error, config);
    logger.fatal({ event: 'failed', code: explained.code, error: explained.message }, explained.message);
    io.stderr.write(`gong-bridge run: ${explained.message}\n`);
    exitCode = exitCodeByError[explained.code] === ExitCode.config ? ExitCode.config : kafkaFailureExitCode;
  } finally {
    await runtime.stop().catch((error: unknown) => {
      logger.error({ event: 'stop-failed', error: String(error) }, 'stop failed');
    });
    await graph.close();
    await observability.close();
    logger.info({ event: 'stopped', stats: runtime.stats() }, 'gong-bridge stopped');
    restoreWarnings();
  }
  return exitCode;
}
