import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, IHeaders, Kafka } from 'kafkajs';
import pino from 'pino';
import { inject } from 'vitest';
import { buildRunGraph, type RunGraph } from '../../src/cli/commands/run.ts';
import { loadConfig } from '../../src/config/config.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { produceSamples, type ProducedSample } from '../../src/kafka/sample-producer.ts';
import { uniqueName } from './kafka.ts';

/**
 * An in-process `gong-bridge run`, built by the same buildRunGraph the command uses, so the
 * integration tests exercise the real object graph against real Kafka, Apicurio and a sandbox.
 */
export interface TestBridge {
  readonly graph: RunGraph;
  stop(): Promise<void>;
}

export function bridgeEnv(overrides: Record<string, string>): Record<string, string> {
  const services = inject('services');
  return {
    KAFKA_BROKERS: services.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    GONG_ACCESS_KEY: 'test-key',
    GONG_ACCESS_KEY_SECRET: 'test-secret',
    GONG_RATE_PER_SECOND: '500',
    GONG_RETRY_BASE_MS: '50',
    GONG_RETRY_MAX_MS: '1000',
    GONG_AUTH_PROBE_INTERVAL_MS: '500',
    GONG_AUTH_PROBE_MAX_MS: '1000',
    COMMIT_INTERVAL_MS: '200',
    // Unknown schema ids (produceTo's 'unknown-schema' records) wait this long before they are
    // dead-lettered; the window itself is tested in test/decode/registry.int.test.ts.
    SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '5000',
    KAFKA_CONNECTION_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

export async function startBridge(env: Record<string, string>): Promise<TestBridge> {
  const config = loadConfig(env);
  const logger = pino({ level: env.LOG_LEVEL ?? 'silent' });
  const graph = buildRunGraph(config, { clock: systemClock, sleep: systemSleep }, logger);
  try {
    await graph.runtime.start();
  } catch (error) {
    await graph.runtime.stop().catch(() => {});
    await graph.close();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    graph,
    stop() {
      stopped ??= (async () => {
        await graph.runtime.stop();
        await graph.close();
      })();
      return stopped;
    },
  };
}

/** `gong-bridge run` as a process of its own, for what only a process shows: signals, exit codes, output. */
export interface BridgeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines on stdout, parsed. */
  logLines(): { level: string; msg: string; stats?: { inFlight: number; commits: number } }[];
  /** SIGKILL when still running; resolves once it has exited. */
  kill(): Promise<void>;
}

export function spawnBridge(env: Record<string, string>): BridgeProcess {
  const root = join(import.meta.dirname, '..', '..');
  const child = spawn(process.execPath, [join(root, 'src/cli/main.ts'), 'run'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as ReturnType<BridgeProcess['logLines']>[number]),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function produceTo(
  kafka: Kafka,
  topic: string,
  count: number,
  ratios: { invalidRatio?: number; undecodableRatio?: number } = {},
): Promise<ProducedSample[]> {
  const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    return await produceSamples({ producer, registry, topic, count, ...ratios });
  } finally {
    await producer.disconnect();
  }
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface PartitionPositions {
  readonly partition: number;
  readonly committed: bigint;
  readonly end: bigint;
}

/** The group's committed offset next to the end offset of every partition of `topic`. */
export async function positions(admin: Admin, groupId: string, topic: string): Promise<PartitionPositions[]> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  return ends
    .map((end) => ({
      partition: end.partition,
      committed: BigInt(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'),
      end: BigInt(end.high),
    }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Every record of `topic` committed by the group. A partition that never held a record has
 * nothing to commit (no offset, -1): with random keys a few records can leave one empty.
 */
export async function allCommitted(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const list = await positions(admin, groupId, topic);
  return list.every(
    (entry) => entry.committed === entry.end || (entry.end === 0n && entry.committed === -1n),
  );
}

export interface DlqRecord {
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
  readonly partition: number;
  readonly offset: string;
}

/** Reads a topic from the beginning to its current end offsets. */
export async function readAll(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<DlqRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const remaining = new Map(
    ends.filter((end) => BigInt(end.high) > BigInt(end.low)).map((end) => [end.partition, BigInt(end.high)]),
  );
  const out: DlqRecord[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not read ${topic} to its end`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          out.push({
            key: message.key?.toString() ?? null,
            value: message.value,
            headers: message.headers ?? {},
            partition,
            offset: message.offset,
          });
          const end = remaining.get(partition);
          if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

export function header(headers: IHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.toString();
}
