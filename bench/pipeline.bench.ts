/**
 * The consumer runtime end to end (issue 5, acceptance 7), against the local stack (Kafka,
 * Apicurio) and an unthrottled Gong sandbox in its own process:
 *
 *   throughput  events/s from the first to the last record of the same topic, for
 *               consume-only  a kafkajs eachBatch loop that only counts (the ceiling);
 *               naive         kafkajs eachMessage: decode, transform, one POST at a time;
 *               bridge        `run`'s object graph (buildRunGraph), limiter off.
 *               receipts      the same with KAFKA_RECEIPTS_TOPIC: a record counts once its
 *                             receipt is acknowledged (issue 16 §5: within 10% of bridge).
 *               Ratios are bridge / consume-only, bridge / naive, and receipts / bridge (the
 *               median of each run's ratio, the two measured back to back). Runs alternate; medians.
 *   latency     produce-to-Gong p50/p99 at low load (20 events/s, limiter at 50/s): Kafka
 *               CreateTime of the record to Gong's answer.
 *   rss         `gong-bridge run` as a child process draining a backlog at GONG_RATE_PER_SECOND=3;
 *               its RSS (VmRSS) sampled every second.
 *
 *   node bench/pipeline.bench.ts
 *   EVENTS=20000 RUNS=3 BACKLOG=1000000 RSS_SECONDS=120 node bench/pipeline.bench.ts
 *   SANDBOX_LATENCY_MS=20 EVENTS=1000 RSS_SECONDS=0 node bench/pipeline.bench.ts   # Gong-like answer times
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../src/kafka/kafka-client.ts';
import pino from 'pino';
import { Pool, request } from 'undici';
import { buildRunGraph } from '../src/cli/commands/run.ts';
import { loadConfig } from '../src/config/config.ts';
import { systemClock, systemSleep } from '../src/delivery/system-time.ts';
import { produceSamples } from '../src/kafka/sample-producer.ts';
import { transformEvent } from '../src/transform/transform.ts';

const EVENTS = Number(process.env.EVENTS ?? 20_000);
const RUNS = Number(process.env.RUNS ?? 3);
const BACKLOG = Number(process.env.BACKLOG ?? 200_000);
const RSS_SECONDS = Number(process.env.RSS_SECONDS ?? 60);
/** Gong's answer time to emulate; 0 measures the client alone, tens of ms is closer to life. */
const LATENCY_MS = Number(process.env.SANDBOX_LATENCY_MS ?? 0);
const KEY = 'bench-key';
const SECRET = 'bench-secret';
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function stackEnv(): { KAFKA_BROKERS: string; SCHEMA_REGISTRY_URL: string } {
  const fromFile: Record<string, string> = {};
  try {
    for (const line of readFileSync(new URL('../.stack/env', import.meta.url), 'utf8').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) fromFile[line.slice(0, at)] = line.slice(at + 1);
    }
  } catch {
    // No local stack file: the environment must say where Kafka and the registry are.
  }
  const pick = (name: string) => process.env[name] ?? fromFile[name];
  const brokers = pick('KAFKA_BROKERS');
  const registry = pick('SCHEMA_REGISTRY_URL');
  if (brokers === undefined || registry === undefined) {
    throw new Error(
      'set KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or start the stack (bash scripts/stack/stack.sh up)',
    );
  }
  return { KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_URL: registry } as const;
}

const services = stackEnv();
const kafka = kafkaClient({
  clientId: 'bench',
  brokers: services.KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const registry = new SchemaRegistry({ host: services.SCHEMA_REGISTRY_URL });
const suffix = Date.now().toString(36);

// Gong's stand-in runs in its own process, so its work is not billed to the bridge.
const sandboxChild = spawn(
  process.execPath,
  [
    main,
    'sandbox',
    '--port',
    '0',
    '--rps',
    '0',
    '--daily-limit',
    '0',
    '--keep-bodies',
    '0',
    '--access-key',
    KEY,
    '--access-key-secret',
    SECRET,
    '--latency-ms',
    String(LATENCY_MS),
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const sandboxUrl = await new Promise<string>((resolve, reject) => {
  let seen = '';
  sandboxChild.stdout.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    const match = /listening on (\S+)/.exec(seen);
    if (match?.[1] !== undefined) resolve(match[1]);
  });
  sandboxChild.once('exit', (code) => reject(new Error(`sandbox exited with ${String(code)}`)));
});
async function resetSandbox() {
  const answer = await request(`${sandboxUrl}/_sandbox/reset`, { method: 'POST' });
  await answer.body.text();
}

async function makeTopic(name: string, count: number, partitions = 3) {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: partitions }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await produceSamples({ producer, registry, topic: name, count, batchSize: 1_000 });
  await producer.disconnect();
}

/**
 * Times first-to-last of `count` marks; join and fetch warm-up are left out for every variant
 * alike. `start()` starts the clock before the first mark (a variant whose marks come later in a
 * record's life starts where the others do). The process's CPU time over the same window too.
 */
function stopwatch(count: number) {
  let first = 0;
  let firstCpu: NodeJS.CpuUsage | undefined;
  let seen = 0;
  let resolveDone: (ms: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let cpuMs = 0;
  const start = () => {
    if (firstCpu !== undefined) return;
    first = performance.now();
    firstCpu = process.cpuUsage();
  };
  return {
    done,
    start,
    /** CPU milliseconds (user + system) from the start to the last mark. */
    cpuMs: () => cpuMs,
    mark(n = 1) {
      start();
      seen += n;
      if (seen >= count && seen - n < count) {
        const used = process.cpuUsage(firstCpu);
        cpuMs = (used.user + used.system) / 1000;
        resolveDone(performance.now() - first);
      }
    },
  };
}

async function consumeOnly(topic: string): Promise<number> {
  const watch = stopwatch(EVENTS);
  const consumer = kafka.consumer({ groupId: `bench-consume-${suffix}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachBatch: async ({ batch }) => watch.mark(batch.messages.length) });
  const ms = await watch.done;
  await consumer.disconnect();
  return ((EVENTS - 1) / ms) * 1000;
}

async function naive(topic: string): Promise<number> {
  const watch = stopwatch(EVENTS);
  const pool = new Pool(sandboxUrl, { connections: 1 });
  const authorization = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
  const consumer = kafka.consumer({ groupId: `bench-naive-${suffix}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const event = await registry.decode(message.value!);
      const result = transformEvent(event);
      if (result.ok) {
        const answer = await pool.request({
          method: 'POST',
          path: '/v2/digital-interaction',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify(result.body),
        });
        await answer.body.text();
      }
      watch.mark();
    },
  });
  const ms = await watch.done;
  await consumer.disconnect();
  await pool.close();
  return ((EVENTS - 1) / ms) * 1000;
}

function bridgeConfig(topic: string, extra: Record<string, string> = {}) {
  return {
    ...services,
    KAFKA_TOPICS: topic,
    KAFKA_GROUP_ID: `bench-bridge-${suffix}-${Math.random()}`,
    GONG_BASE_URL: sandboxUrl,
    GONG_ACCESS_KEY: KEY,
    GONG_ACCESS_KEY_SECRET: SECRET,
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

/**
 * `run` at full speed: events/s, and CPU ms per 1,000 events in this process (the bridge; the
 * sandbox runs in its own). With `receiptsTopic`, a record counts only once its receipt is stored.
 */
async function bridge(
  topic: string,
  receiptsTopic?: string,
): Promise<{ perSecond: number; cpuMsPer1000: number }> {
  const watch = stopwatch(EVENTS);
  const config = loadConfig(
    bridgeConfig(topic, {
      GONG_LIMITER_DISABLED: 'true',
      MAX_IN_FLIGHT: '64',
      ...(receiptsTopic === undefined ? {} : { KAFKA_RECEIPTS_TOPIC: receiptsTopic }),
    }),
  );
  const graph = buildRunGraph(config, { clock: systemClock, sleep: systemSleep }, pino({ level: 'silent' }));
  const settled = receiptsTopic === undefined ? () => watch.mark() : () => watch.start();
  graph.runtime.events.on('delivered', settled);
  graph.runtime.events.on('dead-lettered', settled);
  if (receiptsTopic !== undefined) graph.runtime.events.on('receipt-written', () => watch.mark());
  await graph.runtime.start();
  const ms = await watch.done;
  await graph.runtime.stop();
  await graph.close();
  return { perSecond: ((EVENTS - 1) / ms) * 1000, cpuMsPer1000: (watch.cpuMs() / EVENTS) * 1000 };
}

async function latency(topic: string): Promise<{ p50: number; p99: number; n: number }> {
  const config = loadConfig(bridgeConfig(topic, { GONG_RATE_PER_SECOND: '50', COMMIT_INTERVAL_MS: '1000' }));
  const graph = buildRunGraph(config, { clock: systemClock, sleep: systemSleep }, pino({ level: 'silent' }));
  const samples: number[] = [];
  graph.runtime.events.on('delivered', (event) => samples.push(event.latencyMs));
  await graph.runtime.start();
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const total = 200;
  for (let i = 0; i < total; i++) {
    await produceSamples({ producer, registry, topic, count: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const deadline = Date.now() + 20_000;
  while (samples.length < total && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  await producer.disconnect();
  await graph.runtime.stop();
  await graph.close();
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), n: samples.length };
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match?.[1] === undefined ? NaN : Number(match[1]) / 1024;
}

async function rss(topic: string) {
  const child = spawn(process.execPath, [main, 'run'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...bridgeConfig(topic, { GONG_RATE_PER_SECOND: '3', HTTP_PORT: '0' }),
    },
    stdio: 'ignore',
  });
  const samples: number[] = [];
  for (let s = 0; s < RSS_SECONDS; s++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    samples.push(rssOf(child.pid!));
  }
  child.kill('SIGTERM');
  await once(child, 'exit');
  const tail = samples.slice(Math.floor(samples.length / 2));
  return {
    peakMb: Math.max(...samples),
    firstHalfPeakMb: Math.max(...samples.slice(0, Math.floor(samples.length / 2))),
    secondHalfPeakMb: Math.max(...tail),
    lastMb: samples.at(-1) ?? NaN,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const topics: string[] = [];
try {
  const throughputTopic = `bench-pipeline-${suffix}`;
  topics.push(throughputTopic);
  process.stderr.write(`producing ${EVENTS} events to ${throughputTopic}\n`);
  await makeTopic(throughputTopic, EVENTS);
  const receiptsTopic = `${throughputTopic}.receipts`;
  topics.push(receiptsTopic);
  const results = {
    consumeOnly: [] as number[],
    naive: [] as number[],
    bridge: [] as number[],
    receipts: [] as number[],
    receiptsOverBridge: [] as number[],
    cpuBridge: [] as number[],
    cpuReceipts: [] as number[],
    cpuReceiptsOverBridge: [] as number[],
  };
  for (let run = 0; run < RUNS; run++) {
    results.consumeOnly.push(await consumeOnly(throughputTopic));
    await resetSandbox();
    results.naive.push(await naive(throughputTopic));
    await resetSandbox();
    // Back to back, the order alternating, so a shift in the shared machine's load falls on both.
    const pair = { bridge: { perSecond: 0, cpuMsPer1000: 0 }, receipts: { perSecond: 0, cpuMsPer1000: 0 } };
    for (const variant of run % 2 === 0
      ? (['bridge', 'receipts'] as const)
      : (['receipts', 'bridge'] as const)) {
      pair[variant] = await bridge(throughputTopic, variant === 'receipts' ? receiptsTopic : undefined);
      await resetSandbox();
    }
    results.bridge.push(pair.bridge.perSecond);
    results.receipts.push(pair.receipts.perSecond);
    results.receiptsOverBridge.push(pair.receipts.perSecond / pair.bridge.perSecond);
    results.cpuBridge.push(pair.bridge.cpuMsPer1000);
    results.cpuReceipts.push(pair.receipts.cpuMsPer1000);
    results.cpuReceiptsOverBridge.push(pair.receipts.cpuMsPer1000 / pair.bridge.cpuMsPer1000);
    process.stderr.write(
      `run ${run + 1}: consume-only ${results.consumeOnly.at(-1)!.toFixed(0)}/s naive ${results.naive.at(-1)!.toFixed(0)}/s ` +
        `bridge ${pair.bridge.perSecond.toFixed(0)}/s (${pair.bridge.cpuMsPer1000.toFixed(0)} CPU ms/1k) ` +
        `receipts ${pair.receipts.perSecond.toFixed(0)}/s (${pair.receipts.cpuMsPer1000.toFixed(0)} CPU ms/1k)\n`,
    );
  }
  const c = median(results.consumeOnly);
  const n = median(results.naive);
  const b = median(results.bridge);
  const r = median(results.receipts);

  const latencyTopic = `bench-latency-${suffix}`;
  topics.push(latencyTopic);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: latencyTopic, numPartitions: 3 }] });
  const lat = await latency(latencyTopic);

  let memory: Awaited<ReturnType<typeof rss>> | null = null;
  if (BACKLOG > 0 && RSS_SECONDS > 0) {
    const backlogTopic = `bench-backlog-${suffix}`;
    topics.push(backlogTopic);
    process.stderr.write(`producing a backlog of ${BACKLOG} events to ${backlogTopic}\n`);
    await makeTopic(backlogTopic, BACKLOG);
    memory = await rss(backlogTopic);
  }

  const report = {
    events: EVENTS,
    sandboxLatencyMs: LATENCY_MS,
    runs: RUNS,
    throughput: {
      consumeOnlyPerSecond: Math.round(c),
      naivePerSecond: Math.round(n),
      bridgePerSecond: Math.round(b),
      bridgeOverConsumeOnly: Number((b / c).toFixed(3)),
      bridgeOverNaive: Number((b / n).toFixed(2)),
      receiptsPerSecond: Math.round(r),
      receiptsOverBridge: Number(median(results.receiptsOverBridge).toFixed(3)),
      receiptsOverBridgeRuns: results.receiptsOverBridge.map((ratio) => Number(ratio.toFixed(3))),
    },
    cpuMsPer1000Events: {
      bridge: Math.round(median(results.cpuBridge)),
      receipts: Math.round(median(results.cpuReceipts)),
      receiptsOverBridge: Number(median(results.cpuReceiptsOverBridge).toFixed(3)),
      receiptsOverBridgeRuns: results.cpuReceiptsOverBridge.map((ratio) => Number(ratio.toFixed(3))),
    },
    latencyMs: { p50: Math.round(lat.p50), p99: Math.round(lat.p99), samples: lat.n },
    rss: memory === null ? null : { backlog: BACKLOG, seconds: RSS_SECONDS, ...memory },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  await admin.deleteTopics({ topics: topics.flatMap((topic) => [topic, `${topic}.dlq`]) }).catch(() => {});
  await admin.disconnect();
  sandboxChild.kill('SIGTERM');
  await once(sandboxChild, 'exit');
}
