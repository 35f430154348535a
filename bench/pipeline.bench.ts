/**
 * The consumer runtime end to end (issue 5, acceptance 7; issue 16 §5), against the local stack
 * (Kafka, Apicurio) and an unthrottled Gong sandbox in its own process:
 *
 *   throughput  the same EVENTS records (3 partitions), in alternating rounds; medians.
 *               consume-only  a kafkajs eachBatch loop that only counts (the Kafka ceiling);
 *               naive         kafkajs eachMessage: decode, transform, one POST at a time;
 *               bare          what the HTTP path alone allows: the same Gong bodies posted by a
 *                             bare undici loop (bench/bare-post-loop.ts), same connections and
 *                             records in flight as `run`, in a process of its own;
 *               send          `gong-bridge send --no-limiter` on the same bodies, a process;
 *               run           `gong-bridge run` as shipped (metrics, logs at info, /metrics
 *                             served), a process reading the topic with a fresh group.
 *               bare, send and run are timed at the sandbox, first to last accepted call, and
 *               their CPU is the process's own (utime + stime from /proc/<pid>/stat) over the
 *               same window, per 1,000 events. The limiter is disabled (GONG_LIMITER_DISABLED,
 *               --no-limiter): this measures the machine, not the quota.
 *   latency     produce-to-Gong p50/p99 at low load (20 events/s, limiter at 50/s): Kafka
 *               CreateTime of the record to Gong's answer.
 *   rss         `gong-bridge run` as a child process draining a backlog at GONG_RATE_PER_SECOND=3;
 *               its RSS (VmRSS) sampled every second.
 *
 *   node bench/pipeline.bench.ts
 *   EVENTS=20000 RUNS=5 RSS_SECONDS=0 VARIANTS=bare,send,run node bench/pipeline.bench.ts
 *   CPU_PROFILE=.stack/reports/cpu-prof RUNS=1 VARIANTS=run RSS_SECONDS=0 node bench/pipeline.bench.ts
 *   SANDBOX_LATENCY_MS=20 EVENTS=1000 RSS_SECONDS=0 node bench/pipeline.bench.ts   # Gong-like answer times
 *
 * CPU_PROFILE=DIR runs bare, send and run under `node --cpu-prof` and prints where each one's CPU
 * went between the first and the last accepted call (bench/cpu-profile-summary.ts).
 * RUN_BEFORE=DIR adds `run-before`: the `run` of another checkout (e.g. main's, with its
 * node_modules) in the same rounds, for before/after ratios. RUN_B_ENV='{"SETTING":"value"}' adds
 * `run-b`: this checkout's `run` with those settings added, in the same rounds (e.g. a larger
 * COMMIT_MAX_PENDING). BRIDGE_NODE_OPTIONS adds Node flags
 * to the send and run processes (e.g. the chart's heap flags).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
import type { CallRecord } from '../src/sandbox/call-log.ts';
import { transformEvent } from '../src/transform/transform.ts';
import { formatSummary, summariseProfile, type CpuProfile } from './cpu-profile-summary.ts';

const EVENTS = Number(process.env.EVENTS ?? 20_000);
const RUNS = Number(process.env.RUNS ?? 5);
const BACKLOG = Number(process.env.BACKLOG ?? 200_000);
const RSS_SECONDS = Number(process.env.RSS_SECONDS ?? 60);
/** Events of the produce-to-Gong latency run; 0 skips it. */
const LATENCY_EVENTS = Number(process.env.LATENCY_EVENTS ?? 200);
/** Gong's answer time to emulate; 0 measures the client alone, tens of ms is closer to life. */
const LATENCY_MS = Number(process.env.SANDBOX_LATENCY_MS ?? 0);
/** GONG_MAX_CONNECTIONS and MAX_IN_FLIGHT of `run` (their defaults), for bare and send too. */
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 16);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 32);
const allVariants = ['consume-only', 'naive', 'bare', 'send', 'run', 'run-b', 'run-before'] as const;
type Variant = (typeof allVariants)[number];
/** A checkout of another version (e.g. main's, with node_modules): `run-before` runs its `run`. */
const RUN_BEFORE = process.env.RUN_BEFORE;
/** Settings `run-b` adds to `run`'s. */
const RUN_B_ENV =
  process.env.RUN_B_ENV === undefined
    ? undefined
    : (JSON.parse(process.env.RUN_B_ENV) as Record<string, string>);
const VARIANTS = (
  process.env.VARIANTS ??
  allVariants
    .filter(
      (name) =>
        (name !== 'run-before' || RUN_BEFORE !== undefined) && (name !== 'run-b' || RUN_B_ENV !== undefined),
    )
    .join(',')
)
  .split(',')
  .filter((name): name is Variant => (allVariants as readonly string[]).includes(name));
const CPU_PROFILE = process.env.CPU_PROFILE === undefined ? undefined : resolve(process.env.CPU_PROFILE);
const BRIDGE_NODE_OPTIONS = (process.env.BRIDGE_NODE_OPTIONS ?? '').split(' ').filter((flag) => flag !== '');
const KEY = 'bench-key';
const SECRET = 'bench-secret';
const AUTHORIZATION = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const bareLoop = fileURLToPath(new URL('./bare-post-loop.ts', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

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

/** Times first-to-last of `count` marks; join and fetch warm-up are left out for every variant alike. */
function stopwatch(count: number) {
  let first = 0;
  let seen = 0;
  let resolveDone: (ms: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  return {
    done,
    mark(n = 1) {
      if (seen === 0) first = performance.now();
      seen += n;
      if (seen >= count) resolveDone(performance.now() - first);
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
          headers: { authorization: AUTHORIZATION, 'content-type': 'application/json' },
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

/** The Gong bodies of the topic's records, in a JSON Lines file: what bare and send post. */
async function collectBodies(topic: string): Promise<string> {
  const lines: string[] = [];
  const watch = stopwatch(EVENTS);
  const consumer = kafka.consumer({ groupId: `bench-bodies-${suffix}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const result = transformEvent(await registry.decode(message.value!));
      if (!result.ok) throw new Error(`a sample event is not a valid body: ${result.errors.join('; ')}`);
      lines.push(JSON.stringify(result.body));
      watch.mark();
    },
  });
  await watch.done;
  await consumer.disconnect();
  const file = join(workDir, 'bodies.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // utime and stime are fields 14 and 15 of proc(5); the part after the command name starts at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

interface CpuSample {
  readonly wallMs: number;
  readonly cpuSeconds: number;
}

/** Samples a process's CPU time every 20 ms, so that its value at any moment can be interpolated. */
function sampleCpu(pid: number): { stop(): CpuSample[] } {
  const samples: CpuSample[] = [];
  const take = () => {
    try {
      samples.push({ wallMs: Date.now(), cpuSeconds: cpuSecondsOf(pid) });
    } catch {
      // The process has exited.
    }
  };
  take();
  const timer = setInterval(take, 20);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

function cpuAt(samples: readonly CpuSample[], wallMs: number): number {
  let before = samples[0]!;
  for (const sample of samples) {
    if (sample.wallMs >= wallMs) {
      if (sample.wallMs === before.wallMs) return sample.cpuSeconds;
      const share = (wallMs - before.wallMs) / (sample.wallMs - before.wallMs);
      return before.cpuSeconds + (sample.cpuSeconds - before.cpuSeconds) * share;
    }
    before = sample;
  }
  return before.cpuSeconds;
}

/** The calls the sandbox accepted since its last reset, oldest first. */
async function acceptedCalls(): Promise<CallRecord[]> {
  const accepted: CallRecord[] = [];
  for (let since = 0; ;) {
    const answer = await request(`${sandboxUrl}/_sandbox/calls?since=${since}&limit=100000`);
    const page = (await answer.body.json()) as { calls: CallRecord[]; lastSeq: number };
    for (const call of page.calls) if (call.outcome === 'accepted') accepted.push(call);
    if (page.calls.length === 0) return accepted;
    since = page.lastSeq;
  }
}

async function acceptedCount(): Promise<number> {
  const answer = await request(`${sandboxUrl}/_sandbox/stats`);
  return ((await answer.body.json()) as { accepted: number }).accepted;
}

interface Measured {
  readonly perSecond: number;
  /** CPU seconds per 1,000 events of the process measured, and of the sandbox, over the same window. */
  readonly cpuPer1000?: number;
  readonly sandboxCpuPer1000?: number;
}

/**
 * Runs a bridge-side process against the sandbox: timed at the sandbox from the first to the last
 * accepted call, CPU over that window. `stop` ends processes that do not end by themselves (run)
 * once the sandbox accepted every event.
 */
async function measureProcess(
  name: string,
  child: ChildProcess,
  stop: boolean,
  profileDir?: string,
): Promise<Measured> {
  const clientCpu = sampleCpu(child.pid!);
  const sandboxCpu = sampleCpu(sandboxChild.pid!);
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  if (stop) {
    while ((await acceptedCount()) < EVENTS) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} too early`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  const client = clientCpu.stop();
  const sandbox = sandboxCpu.stop();
  if (code !== 0) throw new Error(`${name} exited with ${String(code)}`);
  const calls = await acceptedCalls();
  if (calls.length < EVENTS) throw new Error(`${name}: the sandbox accepted ${calls.length} of ${EVENTS}`);
  const first = calls[0]!;
  const last = calls.at(-1)!;
  const per1000 = (samples: CpuSample[]) =>
    ((cpuAt(samples, last.at) - cpuAt(samples, first.at)) / (calls.length - 1)) * 1000;
  if (profileDir !== undefined) summariseWindow(name, profileDir, first.at, last.at);
  return {
    perSecond: ((calls.length - 1) / (last.t - first.t)) * 1000,
    cpuPer1000: per1000(client),
    sandboxCpuPer1000: per1000(sandbox),
  };
}

/** Monotonic µs (the clock of `--cpu-prof` and process.hrtime) minus wall-clock µs. */
const monotonicOffsetUs = Number(process.hrtime.bigint() / 1000n) - Date.now() * 1000;

/** With CPU_PROFILE set, Node flags that write a .cpuprofile of the process into a directory of its own. */
function profiling(name: string): { dir?: string; flags: string[] } {
  if (CPU_PROFILE === undefined) return { flags: [] };
  const dir = join(CPU_PROFILE, `${name}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return { dir, flags: ['--cpu-prof', '--cpu-prof-dir', dir] };
}

/** Prints where the process's CPU went between the first and the last accepted call. */
function summariseWindow(name: string, dir: string, fromMs: number, toMs: number): void {
  const file = readdirSync(dir).find((entry) => entry.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const window = {
    fromUs: Math.round(fromMs * 1000 + monotonicOffsetUs),
    toUs: Math.round(toMs * 1000 + monotonicOffsetUs),
  };
  process.stderr.write(
    `${name}'s CPU profile, first to last accepted call (node bench/cpu-profile-summary.ts ` +
      `${join(dir, file)} --from-us ${window.fromUs} --to-us ${window.toUs}):\n` +
      `${formatSummary(summariseProfile(profile, window))}\n`,
  );
}

async function bare(bodies: string): Promise<Measured> {
  const profile = profiling('bare');
  const child = spawn(
    process.execPath,
    [
      ...profile.flags,
      bareLoop,
      '--url',
      sandboxUrl,
      '--bodies',
      bodies,
      '--authorization',
      AUTHORIZATION,
      '--connections',
      String(CONNECTIONS),
      '--in-flight',
      String(IN_FLIGHT),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return measureProcess('bare', child, false, profile.dir);
}

async function send(bodies: string): Promise<Measured> {
  const profile = profiling('send');
  const child = spawn(
    process.execPath,
    [
      ...BRIDGE_NODE_OPTIONS,
      ...profile.flags,
      main,
      'send',
      bodies,
      '--no-limiter',
      '--concurrency',
      String(IN_FLIGHT),
      '--json',
    ],
    {
      cwd: workDir,
      env: {
        PATH: process.env.PATH ?? '',
        GONG_BASE_URL: sandboxUrl,
        GONG_ACCESS_KEY: KEY,
        GONG_ACCESS_KEY_SECRET: SECRET,
        GONG_MAX_CONNECTIONS: String(CONNECTIONS),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return measureProcess('send', child, false, profile.dir);
}

async function run(topic: string, name: 'run' | 'run-b' | 'run-before' = 'run'): Promise<Measured> {
  const profile = profiling(name);
  const cli = name === 'run-before' ? join(resolve(RUN_BEFORE ?? '.'), 'src/cli/main.ts') : main;
  const child = spawn(process.execPath, [...BRIDGE_NODE_OPTIONS, ...profile.flags, cli, 'run'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...bridgeConfig(topic, {
        GONG_LIMITER_DISABLED: 'true',
        GONG_MAX_CONNECTIONS: String(CONNECTIONS),
        MAX_IN_FLIGHT: String(IN_FLIGHT),
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        ...(name === 'run-b' ? RUN_B_ENV : {}),
      }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return measureProcess(name, child, true, profile.dir);
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
  const total = LATENCY_EVENTS;
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

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fixed = (value: number, digits: number) => Number(value.toFixed(digits));
const topics: string[] = [];
try {
  const throughputTopic = `bench-pipeline-${suffix}`;
  topics.push(throughputTopic);
  process.stderr.write(`producing ${EVENTS} events to ${throughputTopic}\n`);
  await makeTopic(throughputTopic, EVENTS);
  const bodies = await collectBodies(throughputTopic);
  const measure: Record<Variant, () => Promise<Measured>> = {
    'consume-only': async () => ({ perSecond: await consumeOnly(throughputTopic) }),
    naive: async () => ({ perSecond: await naive(throughputTopic) }),
    bare: () => bare(bodies),
    send: () => send(bodies),
    run: () => run(throughputTopic),
    'run-b': () => run(throughputTopic, 'run-b'),
    'run-before': () => run(throughputTopic, 'run-before'),
  };
  const results = new Map<Variant, Measured[]>(VARIANTS.map((name) => [name, []]));
  const loadBefore = loadavg();
  for (let round = 0; round < RUNS; round++) {
    // Rotate the order so drift on a shared machine favours no variant.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    const line: string[] = [];
    for (const name of order) {
      await resetSandbox();
      const measured = await measure[name]();
      results.get(name)!.push(measured);
      line.push(
        `${name} ${measured.perSecond.toFixed(0)}/s` +
          (measured.cpuPer1000 === undefined ? '' : ` (${measured.cpuPer1000.toFixed(3)} CPU-s/1k)`),
      );
    }
    process.stderr.write(`round ${round + 1}: ${line.join(', ')}\n`);
  }
  const loadAfter = loadavg();
  const throughput: Record<string, unknown> = {};
  for (const [name, measured] of results) {
    const cpu = measured.flatMap((m) => (m.cpuPer1000 === undefined ? [] : [m.cpuPer1000]));
    const sandboxCpu = measured.flatMap((m) =>
      m.sandboxCpuPer1000 === undefined ? [] : [m.sandboxCpuPer1000],
    );
    throughput[name] = {
      perSecond: Math.round(median(measured.map((m) => m.perSecond))),
      rounds: measured.map((m) => Math.round(m.perSecond)),
      ...(cpu.length === 0
        ? {}
        : {
            cpuSecondsPer1000: fixed(median(cpu), 4),
            sandboxCpuSecondsPer1000: fixed(median(sandboxCpu), 4),
          }),
    };
  }
  /** The median of the per-round ratios: each compares runs made seconds apart. */
  const ratio = (over: Variant, under: Variant) => {
    const a = results.get(over);
    const b = results.get(under);
    if (a === undefined || b === undefined) return undefined;
    return fixed(median(a.map((m, i) => m.perSecond / b[i]!.perSecond)), 3);
  };
  /** The same for CPU seconds per event: each process's own, over its own window. */
  const cpuRatio = (over: Variant, under: Variant) => {
    const a = results.get(over);
    const b = results.get(under);
    if (a === undefined || b === undefined || a[0]?.cpuPer1000 === undefined) return undefined;
    return fixed(median(a.map((m, i) => m.cpuPer1000! / b[i]!.cpuPer1000!)), 3);
  };
  const cpuRatios = {
    runOverBare: cpuRatio('run', 'bare'),
    sendOverBare: cpuRatio('send', 'bare'),
    runOverRunBefore: cpuRatio('run', 'run-before'),
    runBOverRun: cpuRatio('run-b', 'run'),
  };
  const ratios = {
    runOverBare: ratio('run', 'bare'),
    sendOverBare: ratio('send', 'bare'),
    runOverSend: ratio('run', 'send'),
    runOverRunBefore: ratio('run', 'run-before'),
    runBOverRun: ratio('run-b', 'run'),
    runOverConsumeOnly: ratio('run', 'consume-only'),
    runOverNaive: ratio('run', 'naive'),
  };

  const latencyTopic = `bench-latency-${suffix}`;
  topics.push(latencyTopic);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: latencyTopic, numPartitions: 3 }] });
  const lat = LATENCY_EVENTS > 0 ? await latency(latencyTopic) : { p50: NaN, p99: NaN, n: 0 };

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
    rounds: RUNS,
    machine: {
      cores: availableParallelism(),
      loadAverage1mBefore: fixed(loadBefore[0]!, 1),
      loadAverage1mAfter: fixed(loadAfter[0]!, 1),
      note: 'bridge, sandbox, Kafka and Apicurio share these cores (and, on the dev host, other work)',
    },
    settings: {
      limiter:
        'disabled in send and run (GONG_LIMITER_DISABLED / --no-limiter): the machine is measured, not the quota',
      connections: CONNECTIONS,
      inFlight: IN_FLIGHT,
      ...(RUN_B_ENV === undefined ? {} : { runB: RUN_B_ENV }),
    },
    throughput,
    ratios,
    cpuRatios,
    targets: { runOverBare: 0.9, runCpuSecondsPer1000: 0.08 },
    latencyMs: lat.n === 0 ? null : { p50: Math.round(lat.p50), p99: Math.round(lat.p99), samples: lat.n },
    rss: memory === null ? null : { backlog: BACKLOG, seconds: RSS_SECONDS, ...memory },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  await admin.deleteTopics({ topics: topics.flatMap((topic) => [topic, `${topic}.dlq`]) }).catch(() => {});
  await admin.disconnect();
  sandboxChild.kill('SIGTERM');
  await once(sandboxChild, 'exit');
  rmSync(workDir, { recursive: true, force: true });
}
