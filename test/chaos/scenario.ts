import type { Admin, Kafka } from 'kafkajs';
import { expect } from 'vitest';
import type { ProducedSample } from '../../src/kafka/sample-producer.ts';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.ts';
import { Writable } from 'node:stream';
import { buildRunGraph, type RunGraph } from '../../src/cli/commands/run.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Clock } from '../../src/delivery/limiter-types.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startObservability, type Observability } from '../../src/observability/start.ts';
import { allCommitted, bridgeEnv, positions, readAll, waitFor } from '../helpers/bridge.ts';
import { createTopics, uniqueName } from '../helpers/kafka.ts';
import {
  account,
  chaosEvents,
  followDeadLetters,
  produceTraffic,
  startCommitMonitor,
  type Accounting,
  type CommitMonitor,
  type ProducedRecord,
} from './harness.ts';

export interface ScenarioContext {
  readonly sandbox: RunningSandbox;
  readonly topic: string;
  readonly dlqTopic: string;
  readonly groupId: string;
  readonly records: readonly ProducedRecord[];
  /** The running bridges; set for `during` and `faults`, not for `beforeStart`. */
  readonly bridges?: readonly TracedBridge[];
}

export interface ScenarioOptions {
  readonly name: string;
  readonly kafka: Kafka;
  readonly admin: Admin;
  /** KAFKA_BROKERS for the bridge when it is not the shared stack. */
  readonly brokers?: string;
  readonly sandbox?: SandboxOptions;
  /** Settings for the bridge on top of the test defaults. */
  readonly env?: Record<string, string>;
  /** Puts something between the bridge and the sandbox; returns the URL the bridge calls. */
  readonly gongUrl?: (sandbox: RunningSandbox) => Promise<string>;
  /** Runs once the traffic is produced, before the bridge starts (a fault that must come first). */
  readonly beforeStart?: (context: ScenarioContext) => Promise<void>;
  /** The fault itself, run while the bridge works; resolves when the fault is over. */
  readonly during?: (context: RunningScenario) => Promise<void>;
  /** What was injected, for the books. */
  readonly faults: (context: ScenarioContext) => Record<string, number | string>;
  readonly events?: number;
  /** Records of the scenario's own, produced after the traffic; they count as bad records. */
  readonly extraRecords?: (kafka: Kafka, topic: string) => Promise<ProducedSample[]>;
  readonly timeoutMs?: number;
  /** Bridges in the same consumer group, sharing the quota; default 1. */
  readonly replicas?: number;
  /** The clock the bridges run on (default the system clock); clock-jump steps its wall time. */
  readonly clock?: Clock;
}

/** What `during` sees: the replicas running, and a way to add one (the group rebalances). */
export interface RunningScenario extends ScenarioContext {
  readonly bridges: readonly TracedBridge[];
  /** One more replica with the same settings; it is scraped and stopped like the others. */
  startReplica(): Promise<TracedBridge>;
}

/** Everything a scenario needs before the bridge starts, with what undoes it. */
export interface PreparedScenario extends ScenarioContext {
  readonly monitor: CommitMonitor;
  /** Run in order by `close`; a scenario puts what it starts later in front (`unshift`). */
  readonly cleanups: (() => Promise<unknown>)[];
  close(): Promise<void>;
}

/**
 * Topics, a sandbox, the traffic, a follower of the dead-letter topic and the commit monitor:
 * what every scenario starts from, whatever it then does with bridges.
 */
export async function prepareScenario(options: {
  readonly name: string;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly sandbox?: SandboxOptions;
  readonly events?: number;
  /** Share of the traffic Gong would reject (dead-lettered); default 10%. */
  readonly invalidRatio?: number;
  readonly extraRecords?: (kafka: Kafka, topic: string) => Promise<ProducedSample[]>;
}): Promise<PreparedScenario> {
  const { kafka, admin } = options;
  const topic = uniqueName(`chaos-${options.name}`);
  const dlqTopic = `${topic}.dlq`;
  const groupId = uniqueName(`chaos-${options.name}-bridge`);
  const dropTopics = await createTopics(admin, [topic, dlqTopic], 3);
  const sandbox = await startSandbox({
    accessKey: 'test-key',
    accessKeySecret: 'test-secret',
    rps: 0,
    daily: 0,
    ...options.sandbox,
  });
  const cleanups: (() => Promise<unknown>)[] = [() => sandbox.close(), dropTopics];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
  };
  try {
    const records = await produceTraffic(
      kafka,
      topic,
      options.events ?? chaosEvents,
      options.invalidRatio,
      options.extraRecords,
    );
    const deadLetters = await followDeadLetters(kafka, dlqTopic, uniqueName('chaos-dlq-reader'));
    cleanups.unshift(() => deadLetters.stop());
    const monitor = startCommitMonitor({
      admin,
      groupId,
      topic,
      records,
      sandbox,
      deadLettered: deadLetters.keys,
      finalDeadLettered: async () =>
        new Set((await readAll(kafka, dlqTopic)).map((record) => record.key ?? '')),
    });
    return { sandbox, topic, dlqTopic, groupId, records, monitor, cleanups, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * One scenario from traffic to books: produce, run the bridge through the fault until every
 * offset is committed, then account and assert that nothing was lost.
 */
export async function runScenario(options: ScenarioOptions): Promise<Accounting> {
  const { kafka } = options;
  const prepared = await prepareScenario(options);
  const { sandbox, topic, dlqTopic, groupId, records, monitor, cleanups } = prepared;
  try {
    const gongUrl = options.gongUrl === undefined ? sandbox.url : await options.gongUrl(sandbox);
    const startedAt = Date.now();
    const context: ScenarioContext = { sandbox, topic, dlqTopic, groupId, records };
    await options.beforeStart?.(context);
    const env = bridgeEnv({
      ...(options.brokers === undefined ? {} : { KAFKA_BROKERS: options.brokers }),
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      GONG_BASE_URL: gongUrl,
      GONG_RATE_PER_SECOND: '20',
      // A daily-spend topic per scenario, as a fresh deployment has: its start-up read is then
      // empty, not every earlier scenario's spend fetched through this scenario's faults (a cut
      // fetch held the fetch-cut scenario's start until the ledger read gave up).
      KAFKA_QUOTA_TOPIC: `${topic}.quota`,
      ...options.env,
    });
    cleanups.push(() => options.admin.deleteTopics({ topics: [`${topic}.quota`] }).catch(() => {}));
    const bridges: TracedBridge[] = [];
    // Everything the bridge writes where an operator could see it: trace-level logs and the
    // error events; the dead letters' headers are added at the end.
    const output: string[] = [];
    const startReplica = async (): Promise<TracedBridge> => {
      const replica = bridges.length;
      const bridge = await startTracedBridge(env, output, options.clock ?? systemClock);
      cleanups.unshift(() => bridge.stop());
      bridges.push(bridge);
      for (const name of ['internal-error', 'commit-failed', 'dlq-write-failed', 'crashed'] as const) {
        bridge.graph.runtime.events.on(name, (payload: unknown) => output.push(JSON.stringify(payload)));
      }
      if (process.env.CHAOS_DEBUG !== undefined) {
        // Every runtime event but the per-record ones, to see where a stuck run stopped.
        for (const name of [
          'committed',
          'commit-failed',
          'rebalance',
          'crashed',
          'dlq-write-failed',
          'internal-error',
          'paused',
          'resumed',
          'dead-lettered',
        ] as const) {
          bridge.graph.runtime.events.on(name, (payload: unknown) =>
            console.log(`[${replica}:${name}]`, JSON.stringify(payload)),
          );
        }
      }
      return bridge;
    };
    for (let replica = 0; replica < (options.replicas ?? 1); replica++) await startReplica();
    const running: RunningScenario = { ...context, bridges, startReplica };
    await options.during?.(running);
    // A fresh admin per look: after a broker restart a long-lived kafkajs admin kept answering
    // fetchOffsets with -1 for partitions that had commits.
    const look = async <T>(read: (fresh: Admin) => Promise<T>): Promise<T> => {
      const fresh = kafka.admin();
      try {
        await fresh.connect();
        return await read(fresh);
      } finally {
        await fresh.disconnect().catch(() => {});
      }
    };
    try {
      await waitFor(
        `every record of ${topic} committed`,
        () => look((fresh) => allCommitted(fresh, groupId, topic)).catch(() => false),
        options.timeoutMs ?? 240_000,
        500,
      );
    } catch (error) {
      const where = await look((fresh) => positions(fresh, groupId, topic)).catch(() => []);
      const stats = sandbox.stats();
      throw new Error(
        `${String(error)}; committed/end per partition: ${where
          .map((entry) => `${entry.partition}:${entry.committed}/${entry.end}`)
          .join(' ')}; sandbox accepted ${stats.accepted}, calls ${stats.calls}`,
        { cause: error },
      );
    }
    // What Prometheus would scrape goes into the secret check too: label values come from
    // settings and errors, so a secret could leak there as easily as into a log line.
    for (const bridge of bridges.filter((replica) => !replica.stopped)) {
      const scraped = await bridge.scrape();
      expect(scraped).toContain('gong_bridge_deliveries_total');
      output.push(scraped);
    }
    for (const bridge of bridges) await bridge.stop();
    const books = await account({
      scenario: options.name,
      kafka,
      dlqTopic,
      records,
      sandbox,
      faults: options.faults(running),
      monitor: await monitor.stop(),
      startedAt,
    });
    await expectNoSecret(env, output, kafka, dlqTopic);
    expectBalancedBooks(books);
    return books;
  } finally {
    await prepared.close();
  }
}

/** Nothing lost, nothing stored twice, no commit past an unsettled record. */
export function expectBalancedBooks(books: Accounting): void {
  expect(books.commitViolations).toEqual([]);
  expect(books.lost).toBe(0);
  expect(books.delivered + books.deadLettered).toBe(books.events);
  expect(books.validDeadLettered).toBe(0);
  expect(books.storedTwice).toBe(0);
}

/**
 * No secret in logs, error messages, scraped metrics (all in `output`) or DLQ headers, whatever
 * the fault.
 */
export async function expectNoSecret(
  env: Record<string, string>,
  output: string[],
  kafka: Kafka,
  dlqTopic: string,
): Promise<void> {
  const seen = [...output];
  for (const record of await readAll(kafka, dlqTopic)) {
    for (const [name, value] of Object.entries(record.headers)) seen.push(`${name}: ${String(value)}`);
  }
  expect(seen.length).toBeGreaterThan(0);
  const printed = seen.join('\n');
  for (const secret of secretsOf(env))
    expect(printed.includes(secret), 'a secret reached the output').toBe(false);
}

export interface TracedBridge {
  readonly graph: RunGraph;
  /** stop() was called (a scenario may stop a replica mid-run). */
  readonly stopped: boolean;
  /** GET /metrics of this bridge's observability server, as Prometheus receives it. */
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The bridge's own object graph and redacting logger at trace level, writing into `output`, with
 * the metrics and HTTP server `run` starts next to it (on a free port).
 */
export async function startTracedBridge(
  env: Record<string, string>,
  output: string[],
  clock: Clock,
): Promise<TracedBridge> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'trace' });
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ config, destination });
  const graph = buildRunGraph(config, { clock, sleep: systemSleep }, logger);
  const observability: Observability = await startObservability({
    config: { HTTP_HOST: '127.0.0.1', HTTP_PORT: 0 },
    logger,
    clock,
    sleep: systemSleep,
    engine: graph.engine,
    limiter: graph.limiter,
    runtime: graph.runtime,
  });
  try {
    await graph.runtime.start();
  } catch (error) {
    await observability.close();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    graph,
    get stopped() {
      return stopped !== undefined;
    },
    async scrape() {
      const response = await fetch(`${observability.server.url}/metrics`);
      expect(response.status).toBe(200);
      return response.text();
    },
    stop() {
      stopped ??= (async () => {
        await graph.runtime.stop();
        await graph.close();
        await observability.close();
      })();
      return stopped;
    },
  };
}

/** The secret settings in force, and the Basic credential Gong receives, as they would appear. */
function secretsOf(env: Record<string, string>): string[] {
  const secrets = [env.GONG_ACCESS_KEY_SECRET, env.KAFKA_SASL_PASSWORD, env.SCHEMA_REGISTRY_PASSWORD].filter(
    (value): value is string => value !== undefined && value.length > 0,
  );
  if (env.GONG_ACCESS_KEY !== undefined && env.GONG_ACCESS_KEY_SECRET !== undefined) {
    secrets.push(Buffer.from(`${env.GONG_ACCESS_KEY}:${env.GONG_ACCESS_KEY_SECRET}`).toString('base64'));
  }
  return secrets;
}
