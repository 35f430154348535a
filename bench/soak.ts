/**
 * Soak: `gong-bridge run` as a child process for N minutes at the default 3 calls/s against a Gong
 * sandbox (its own process, --rps 3) with mixed faults, fed steadily by a producer that keeps a
 * small backlog, so the limiter is the bottleneck the whole time. The bridge runs with the
 * NODE_OPTIONS the Helm chart ships (its `heap` values), so what is measured is what ships. Every
 * 10 s it samples the bridge's RSS (/proc/<pid>/status), CPU (/proc/<pid>/stat), V8 heap sizes,
 * GC counts and event-loop lag (prom-client's default metrics), what it settled and what the
 * sandbox saw. At the end it stops producing, lets the backlog drain, SIGTERMs the bridge, checks
 * the books (every valid eventId produced is in the sandbox, every invalid one was dead-lettered,
 * nothing lost) and reads the sandbox's call log for the peak calls per rolling second at Gong's
 * rate check, outage answers apart, and for what preceded each 429.
 *
 *   node bench/soak.ts [--minutes 30] [--outage-every-min 8] [--outage-ms 20000] [--backlog 60]
 *                      [--bridge-node-options=...]   (instead of the chart's; `=` form for a leading dash)
 *
 * Reads KAFKA_BROKERS / SCHEMA_REGISTRY_URL from the environment or from .stack/env. Samples,
 * summary and call log go to .stack/reports/soak-<stamp>/.
 * Exit code 0 when nothing was lost, RSS stayed flat after the first minute (last third of the
 * run within 10% of the first third) and the bridge exited cleanly; 1 otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../src/kafka/kafka-client.ts';
import { parse as parseYaml } from 'yaml';
import { produceSamples, type ProducedSample } from '../src/kafka/sample-producer.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'outage-every-min': { type: 'string', default: '8' },
    'outage-ms': { type: 'string', default: '20000' },
    backlog: { type: 'string', default: '60' },
    'drain-timeout-s': { type: 'string', default: '600' },
    'bridge-node-options': { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const outageEveryMs = Number(values['outage-every-min']) * 60_000;
const outageMs = Number(values['outage-ms']);
const backlogTarget = Number(values.backlog);
const drainTimeoutMs = Number(values['drain-timeout-s']) * 1000;
const rate = 3;
const sampleEveryMs = 10_000;
// Slightly above the rate, so the bridge always has work queued while the producer runs.
const producePerSecond = 4;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stackEnvFile = join(process.env.STACK_DIR ?? join(root, '.stack'), 'env');
const stackEnv: Record<string, string> = {};
if (existsSync(stackEnvFile)) {
  for (const line of readFileSync(stackEnvFile, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) stackEnv[line.slice(0, at)] = line.slice(at + 1);
  }
}
const brokers = process.env.KAFKA_BROKERS ?? stackEnv.KAFKA_BROKERS ?? '127.0.0.1:19092';
const registryUrl =
  process.env.SCHEMA_REGISTRY_URL ?? stackEnv.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:18081/apis/ccompat/v7';

/**
 * NODE_OPTIONS as the chart's defaults render them (helm/gong-bridge/values.yaml, `heap` and
 * `nodeOptions`; the gong-bridge.nodeOptions template), so the soak measures the heap bounds that
 * ship. test/helm/chart.test.ts pins the rendered string.
 */
const chartValues = parseYaml(readFileSync(join(root, 'helm/gong-bridge/values.yaml'), 'utf8')) as {
  heap?: { maxOldSpaceMiB?: number; maxSemiSpaceMiB?: number };
  nodeOptions?: string;
};
const shippedNodeOptions = [
  chartValues.heap?.maxOldSpaceMiB ? `--max-old-space-size=${chartValues.heap.maxOldSpaceMiB}` : '',
  chartValues.heap?.maxSemiSpaceMiB ? `--max-semi-space-size=${chartValues.heap.maxSemiSpaceMiB}` : '',
  chartValues.nodeOptions ?? '',
]
  .filter((option) => option !== '')
  .join(' ');

const stamp = Date.now();
const topic = `soak.interactions.${stamp}`;
const dlqTopic = `${topic}.dlq`;
const groupId = `gong-bridge-soak-${stamp}`;
const reportDir = join(process.env.STACK_DIR ?? join(root, '.stack'), 'reports', `soak-${stamp}`);
const accessKey = 'soak-access-key';
const accessSecret = 'soak-access-key-secret';

/** A port the OS just handed out; the soak avoids the demo's fixed ports (8089, 9464). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const log = createWriteStream(join(reportDir, `${name}.log`));
  const child = spawn(process.execPath, [join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return (await response.json()) as T;
}

/** Sums every series of a metric in Prometheus text format (labels ignored). */
function metric(text: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/**
 * Records the bridge finished with: delivered or 409 (already there) plus every dead letter. Gong
 * rejections and failed validation are dead-lettered too, and some invalid events never reach the
 * engine (caught by the transform), so dead letters, not deliveries{outcome=invalid}, count them.
 */
function settledFrom(text: string): number | undefined {
  const dead = metric(text, 'gong_bridge_dead_lettered_total');
  let done = 0;
  for (const line of text.split('\n')) {
    const m = /^gong_bridge_deliveries_total\{outcome="(delivered|duplicate)"\} (\S+)/.exec(line);
    if (m) done += Number(m[2]);
  }
  return dead === undefined ? undefined : done + dead;
}

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** One labelled series of a metric, e.g. labelled(text, 'nodejs_gc_duration_seconds_count', 'kind="major"'). */
function labelled(text: string, name: string, label: string): number | undefined {
  const prefix = `${name}{`;
  for (const line of text.split('\n')) {
    if (line.startsWith(prefix) && line.includes(label)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

function rssKb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

interface SandboxStats {
  calls: number;
  counted: number;
  accepted: number;
  duplicates: number;
  peakCallsPerRollingSecond: number;
  byOutcome: Record<string, number>;
}

interface SandboxCall {
  seq: number;
  /** Arrival on the sandbox's monotonic clock, ms. */
  t: number;
  status: number;
  outcome: string;
  counted: boolean;
}

/** Most calls of `calls` (sorted by t) arriving within any rolling second. */
function peakPerRollingSecond(calls: readonly SandboxCall[]): { peak: number; atT: number | undefined } {
  let peak = 0;
  let atT: number | undefined;
  let from = 0;
  for (let i = 0; i < calls.length; i++) {
    while (calls[i]!.t - calls[from]!.t >= 1000) from++;
    if (i - from + 1 > peak) {
      peak = i - from + 1;
      atT = calls[i]!.t;
    }
  }
  return { peak, atT };
}

interface Sample {
  tS: number;
  rssKb: number | undefined;
  /** V8's heap as reserved (nodejs_heap_size_total_bytes) and its new and old spaces. */
  heapTotalBytes: number | undefined;
  heapNewBytes: number | undefined;
  heapOldBytes: number | undefined;
  heapUsedBytes: number | undefined;
  /** Lowest heap-used of every scrape in the sample's window: close to the live heap after GC. */
  heapUsedMinBytes: number | undefined;
  externalBytes: number | undefined;
  /** Bridge CPU (user + system) since start, from /proc/<pid>/stat. */
  cpuS: number | undefined;
  gcMinor: number | undefined;
  gcMajor: number | undefined;
  lagP99S: number | undefined;
  lagMaxS: number | undefined;
  settled: number;
  produced: number;
  sandboxCalls: number;
  sandboxAccepted: number;
}

async function main(): Promise<number> {
  await mkdir(reportDir, { recursive: true });
  const sandboxPort = await freePort();
  const httpPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const bridgeNodeOptions = values['bridge-node-options'] ?? shippedNodeOptions;
  const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
  console.log(
    `soak: ${minutes} min at ${rate}/s; topic ${topic}; sandbox ${sandboxUrl}; metrics ${metricsUrl}; logs ${reportDir}`,
  );

  const sandbox = startChild(
    'sandbox',
    [
      'sandbox',
      '--port',
      String(sandboxPort),
      '--rps',
      String(rate),
      '--daily-limit',
      '0',
      '--access-key',
      accessKey,
      '--access-key-secret',
      accessSecret,
      '--fail-rate',
      '0.05',
      '--lost-reply-rate',
      '0.02',
      '--latency-ms',
      '100',
      '--latency-jitter-ms',
      '200',
    ],
    { ...process.env },
  );
  for (let i = 0; ; i++) {
    try {
      await getJson(`${sandboxUrl}/_sandbox/health`);
      break;
    } catch (error) {
      if (i > 100) throw error;
      await sleep(200);
    }
  }

  const kafka = kafkaClient({
    clientId: 'gong-bridge-soak',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 3 },
      { topic: dlqTopic, numPartitions: 1 },
    ],
  });
  await admin.disconnect();
  const registry = new SchemaRegistry({ host: registryUrl });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();

  // Single process, local limiter: the soak measures the bridge, not Redis.
  const { REDIS_URL: _redis, ...baseEnv } = process.env;
  const bridge = startChild('bridge', ['run'], {
    ...baseEnv,
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    KAFKA_TOPICS: topic,
    KAFKA_DLQ_TOPIC: dlqTopic,
    KAFKA_GROUP_ID: groupId,
    GONG_BASE_URL: sandboxUrl,
    GONG_ACCESS_KEY: accessKey,
    GONG_ACCESS_KEY_SECRET: accessSecret,
    GONG_RATE_PER_SECOND: String(rate),
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    COMMIT_INTERVAL_MS: '1000',
    // What the image and chart start the bridge with, unless --bridge-node-options says otherwise.
    NODE_OPTIONS: bridgeNodeOptions,
  });
  let bridgeExit: number | null | undefined;
  const bridgeExited = new Promise<void>((resolve) =>
    bridge.once('exit', (code) => {
      bridgeExit = code;
      resolve();
    }),
  );
  const pid = bridge.pid!;

  const produced: ProducedSample[] = [];
  const seqBase = Math.floor(Math.random() * 1_000_000_000);
  let settled = 0;
  let producing = true;
  let produceError: unknown;
  const outages: number[] = [];
  const samples: Sample[] = [];
  const start = performance.now();
  const elapsed = () => performance.now() - start;

  // The feeder: once a second, top the backlog up (at most producePerSecond), so the bridge is
  // never idle but the drain at the end stays short.
  let batches = 0;
  const feeder = (async () => {
    while (producing) {
      batches++;
      const backlog = produced.length - settled;
      const count = Math.min(producePerSecond, Math.max(0, backlogTarget - backlog));
      if (count > 0) {
        try {
          const batch = await produceSamples({
            producer,
            registry,
            topic,
            count,
            // floor(count x ratio) invalid per batch: one in four on every fifth batch is ~5%.
            invalidRatio: batches % 5 === 0 ? 0.25 : 0,
            firstSeq: seqBase + produced.length,
            timestampMs: Date.now(),
          });
          produced.push(...batch);
        } catch (error) {
          produceError = error;
        }
      }
      await sleep(1000);
    }
  })();

  // prom-client resets its event-loop delay histogram on every scrape, so each scrape reports the
  // lag since the one before (2 s apart here). Keep the worst of them until the next 10 s sample,
  // else a sample would cover only the last 2 s, or nothing when two scrapes came close together.
  let windowLagP99: number | undefined;
  let windowLagMax: number | undefined;
  let windowHeapUsedMin: number | undefined;
  const worst = (a: number | undefined, b: number | undefined) =>
    a === undefined ? b : b === undefined ? a : Math.max(a, b);
  const scrape = async (): Promise<string | undefined> => {
    try {
      const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) return undefined;
      const text = await response.text();
      windowLagP99 = worst(windowLagP99, metric(text, 'nodejs_eventloop_lag_p99_seconds'));
      windowLagMax = worst(windowLagMax, metric(text, 'nodejs_eventloop_lag_max_seconds'));
      const used = metric(text, 'nodejs_heap_size_used_bytes');
      if (used !== undefined) windowHeapUsedMin = Math.min(windowHeapUsedMin ?? used, used);
      return text;
    } catch {
      return undefined;
    }
  };
  const sampleOnce = async () => {
    const text = await scrape();
    if (text !== undefined) settled = settledFrom(text) ?? settled;
    const stats = await getJson<SandboxStats>(`${sandboxUrl}/_sandbox/stats`).catch(() => undefined);
    const sample: Sample = {
      tS: Math.round(elapsed() / 1000),
      rssKb: rssKb(pid),
      heapTotalBytes: text === undefined ? undefined : metric(text, 'nodejs_heap_size_total_bytes'),
      heapNewBytes:
        text === undefined ? undefined : labelled(text, 'nodejs_heap_space_size_total_bytes', 'space="new"'),
      heapOldBytes:
        text === undefined ? undefined : labelled(text, 'nodejs_heap_space_size_total_bytes', 'space="old"'),
      heapUsedBytes: text === undefined ? undefined : metric(text, 'nodejs_heap_size_used_bytes'),
      heapUsedMinBytes: windowHeapUsedMin,
      externalBytes: text === undefined ? undefined : metric(text, 'nodejs_external_memory_bytes'),
      cpuS: cpuSeconds(pid),
      gcMinor:
        text === undefined ? undefined : labelled(text, 'nodejs_gc_duration_seconds_count', 'kind="minor"'),
      gcMajor:
        text === undefined ? undefined : labelled(text, 'nodejs_gc_duration_seconds_count', 'kind="major"'),
      lagP99S: windowLagP99,
      lagMaxS: windowLagMax,
      settled,
      produced: produced.length,
      sandboxCalls: stats?.calls ?? 0,
      sandboxAccepted: stats?.accepted ?? 0,
    };
    windowLagP99 = undefined;
    windowLagMax = undefined;
    windowHeapUsedMin = undefined;
    samples.push(sample);
    return sample;
  };

  // The settled count also steers the feeder, so read it more often than the 10 s samples.
  const settledPoll = setInterval(() => {
    void scrape().then((text) => {
      if (text !== undefined) settled = settledFrom(text) ?? settled;
    });
  }, 2_000);

  const endMs = minutes * 60_000;
  let nextSample = sampleEveryMs;
  let nextOutage = outageEveryMs / 2;
  while (elapsed() < endMs && bridgeExit === undefined) {
    await sleep(250);
    if (elapsed() >= nextOutage) {
      nextOutage += outageEveryMs;
      outages.push(Math.round(elapsed() / 1000));
      await getJson(`${sandboxUrl}/_sandbox/faults`, {
        method: 'POST',
        body: JSON.stringify({ outageMs }),
      }).catch((error: unknown) => console.log(`soak: outage request failed: ${String(error)}`));
    }
    if (elapsed() >= nextSample) {
      nextSample += sampleEveryMs;
      const s = await sampleOnce();
      if (s.tS % 60 === 0) {
        console.log(
          `soak: ${s.tS}s rss=${((s.rssKb ?? 0) / 1024).toFixed(1)}MiB heapTotal=${((s.heapTotalBytes ?? 0) / 2 ** 20).toFixed(1)}MiB lagP99=${((s.lagP99S ?? 0) * 1000).toFixed(1)}ms produced=${s.produced} settled=${s.settled} calls=${s.sandboxCalls} accepted=${s.sandboxAccepted}`,
        );
      }
    }
  }

  // Stop producing and let the backlog drain, so the books close with nothing pending.
  producing = false;
  console.log(`soak: stopped producing at ${Math.round(elapsed() / 1000)}s; draining`);
  await feeder;
  await producer.disconnect();
  const drainStart = performance.now();
  while (
    bridgeExit === undefined &&
    settled < produced.length &&
    performance.now() - drainStart < drainTimeoutMs
  ) {
    await sleep(2_000);
    const text = await scrape();
    if (text !== undefined) settled = settledFrom(text) ?? settled;
    if (Math.round((performance.now() - drainStart) / 1000) % 30 === 0) {
      console.log(`soak: draining, settled ${settled}/${produced.length}`);
    }
  }
  const drainS = Math.round((performance.now() - drainStart) / 1000);
  clearInterval(settledPoll);
  const finalText = await scrape();
  const finalSample = await sampleOnce();
  const deadLettered =
    finalText === undefined ? undefined : metric(finalText, 'gong_bridge_dead_lettered_total');
  const deliveryByOutcome: Record<string, number> = {};
  for (const line of (finalText ?? '').split('\n')) {
    const m = /^gong_bridge_deliveries_total\{outcome="([^"]+)"\} (\S+)/.exec(line);
    if (m) deliveryByOutcome[m[1]!] = Number(m[2]);
  }

  console.log(`soak: drained in ${drainS}s (settled ${settled}/${produced.length}); SIGTERM to the bridge`);
  bridge.kill('SIGTERM');
  const exitTimer = setTimeout(() => bridge.kill('SIGKILL'), 60_000);
  await bridgeExited;
  clearTimeout(exitTimer);

  // The books: every valid eventId must be in the sandbox.
  const stats = await getJson<SandboxStats>(`${sandboxUrl}/_sandbox/stats`);
  const accepted = new Set<string>();
  for (let offset = 0; ; offset += 10_000) {
    const page = await getJson<{ total: number; events: { eventId: string }[] }>(
      `${sandboxUrl}/_sandbox/accepted?offset=${offset}&limit=10000`,
    );
    for (const event of page.events) accepted.add(event.eventId);
    if (page.events.length < 10_000) break;
  }
  // The call log, for the rate figures: which calls met the sandbox's rate check, and when.
  const calls: SandboxCall[] = [];
  for (let since = 0; ;) {
    const page = await getJson<{ calls: SandboxCall[]; lastSeq: number }>(
      `${sandboxUrl}/_sandbox/calls?since=${since}&limit=100000`,
    );
    calls.push(...page.calls);
    if (page.calls.length === 0) break;
    since = page.lastSeq;
  }
  sandbox.kill('SIGTERM');
  await writeFile(join(reportDir, 'calls.json'), JSON.stringify(calls));
  calls.sort((a, b) => a.t - b.t);
  // Outage answers (and 401s) are given before the rate check and use no budget, so they are not
  // load on Gong's limit; everything else met the check: admitted (counted) or answered 429.
  const atRateCheck = calls.filter((c) => c.outcome !== 'outage' && c.outcome !== 'unauthorized');
  const peakAtRateCheck = peakPerRollingSecond(atRateCheck);
  const peakAllArrivals = peakPerRollingSecond(calls);
  const firstT = calls[0]?.t ?? 0;
  // Each 429 with what preceded it: the previous outage answer and how many calls met the rate
  // check in the second before it.
  const throttled = atRateCheck
    .filter((c) => c.outcome.startsWith('throttled'))
    .map((c) => {
      const lastOutage = calls.findLast((o) => o.outcome === 'outage' && o.t <= c.t);
      return {
        seq: c.seq,
        atS: Number(((c.t - firstT) / 1000).toFixed(3)),
        sinceLastOutageAnswerS:
          lastOutage === undefined ? null : Number(((c.t - lastOutage.t) / 1000).toFixed(3)),
        atRateCheckInPrecedingSecond: atRateCheck.filter((o) => o.t > c.t - 1000 && o.t <= c.t).length,
      };
    });

  const valid = produced.filter((s) => s.kind === 'valid');
  const invalid = produced.filter((s) => s.kind !== 'valid');
  const lost = valid.filter((s) => s.eventId === undefined || !accepted.has(s.eventId));
  const pendingAtStop = produced.length - settled;

  // Per-minute table: the last sample of each minute for RSS and heap sizes, the lowest heap-used
  // of the minute (close to the live heap), CPU used during the minute, the worst lag.
  console.log(
    '\nminute  rss MiB  heap total  (new/old)  heap used  used min  external  cpu %  minor/major GC  lag p99 ms  lag max ms  settled  sandbox calls',
  );
  const byMinute = new Map<number, Sample[]>();
  for (const s of samples) {
    const minute = Math.max(1, Math.ceil(s.tS / 60));
    byMinute.set(minute, [...(byMinute.get(minute) ?? []), s]);
  }
  const fmt = (v: number | undefined, scale: number, digits = 1) =>
    v === undefined ? '-' : (v * scale).toFixed(digits);
  const MiB = 1 / 2 ** 20;
  let previous: Sample | undefined;
  for (const [minute, list] of [...byMinute].sort((a, b) => a[0] - b[0])) {
    const last = list.at(-1)!;
    const p99 = Math.max(...list.map((s) => s.lagP99S ?? 0));
    const max = Math.max(...list.map((s) => s.lagMaxS ?? 0));
    const usedMin = Math.min(...list.map((s) => s.heapUsedMinBytes ?? Number.POSITIVE_INFINITY));
    const spanS = last.tS - (previous?.tS ?? 0);
    const cpu =
      last.cpuS === undefined || spanS <= 0 ? undefined : (last.cpuS - (previous?.cpuS ?? 0)) / spanS;
    const gcs = `${last.gcMinor ?? '-'}/${last.gcMajor ?? '-'}`;
    console.log(
      `${String(minute).padStart(6)}  ${fmt(last.rssKb, 1 / 1024).padStart(7)}  ${fmt(last.heapTotalBytes, MiB).padStart(10)}  ${`${fmt(last.heapNewBytes, MiB, 0)}/${fmt(last.heapOldBytes, MiB, 0)}`.padStart(9)}  ${fmt(last.heapUsedBytes, MiB).padStart(9)}  ${fmt(Number.isFinite(usedMin) ? usedMin : undefined, MiB).padStart(8)}  ${fmt(last.externalBytes, MiB).padStart(8)}  ${fmt(cpu, 100).padStart(5)}  ${gcs.padStart(14)}  ${fmt(p99, 1000).padStart(10)}  ${fmt(max, 1000).padStart(10)}  ${String(last.settled).padStart(7)}  ${String(last.sandboxCalls).padStart(13)}`,
    );
    previous = last;
  }

  // Flat: compare the mean RSS of the first and last thirds of the run, skipping the first minute
  // of warm-up (JIT, module loading, the first connections).
  const measured = samples.filter((s) => s.rssKb !== undefined && s.tS <= minutes * 60);
  // A run shorter than a few minutes has no steady state to speak of; then use every sample.
  const warm = measured.filter((s) => s.tS > 60);
  const steady = warm.length >= 3 ? warm : measured;
  const third = Math.max(1, Math.floor(steady.length / 3));
  const mean = (list: Sample[]) =>
    list.reduce((sum, s) => sum + (s.rssKb ?? 0), 0) / Math.max(1, list.length);
  const firstThird = mean(steady.slice(0, third)) / 1024;
  const lastThird = mean(steady.slice(-third)) / 1024;
  const growth = firstThird > 0 ? (lastThird - firstThird) / firstThird : 0;
  // 10% on a ~100 MiB process allows GC sawtooth; a leak at 3/s for 30 minutes shows well above.
  const flat = growth < 0.1;
  // The leak indicator: the lowest heap-used per third (the heap right after a collection).
  const usedFloor = (list: Sample[]) =>
    Math.min(...list.map((s) => s.heapUsedMinBytes ?? Number.POSITIVE_INFINITY)) / 2 ** 20;
  const heapFloorFirst = usedFloor(steady.slice(0, third));
  const heapFloorLast = usedFloor(steady.slice(-third));
  const heapTotalMiB = (s: Sample | undefined) => (s?.heapTotalBytes ?? 0) / 2 ** 20;
  const lagP99s = samples.map((s) => s.lagP99S ?? 0).sort((a, b) => a - b);
  const callsPerDelivered = stats.accepted > 0 ? stats.calls / stats.accepted : 0;

  const summary = {
    minutes,
    rate,
    faults: {
      failRate: 0.05,
      lostReplyRate: 0.02,
      latencyMs: 100,
      latencyJitterMs: 200,
      outageMs,
      outagesAtS: outages,
    },
    produced: produced.length,
    producedValid: valid.length,
    producedInvalid: invalid.length,
    settled,
    deliveryByOutcome,
    deadLettered,
    pendingAtStop,
    drainS,
    acceptedDistinct: accepted.size,
    lost: lost.length,
    sandbox: {
      calls: stats.calls,
      counted: stats.counted,
      byOutcome: stats.byOutcome,
      duplicates: stats.duplicates,
      // The sandbox's own figure: authenticated calls, 429s included, outage answers not.
      peakCallsPerRollingSecond: stats.peakCallsPerRollingSecond,
      peakAtRateCheckPerRollingSecond: peakAtRateCheck.peak,
      peakAtRateCheckAtS:
        peakAtRateCheck.atT === undefined ? null : Number(((peakAtRateCheck.atT - firstT) / 1000).toFixed(3)),
      peakAllArrivalsPerRollingSecond: peakAllArrivals.peak,
      throttled,
    },
    nodeOptions: bridgeNodeOptions,
    callsPerDelivered: Number(callsPerDelivered.toFixed(3)),
    rssMiB: {
      firstThird: Number(firstThird.toFixed(1)),
      lastThird: Number(lastThird.toFixed(1)),
      growth,
      flat,
      warmUpS: steady === warm ? 60 : 0,
    },
    heapMiB: {
      usedFloorFirstThird: Number(heapFloorFirst.toFixed(1)),
      usedFloorLastThird: Number(heapFloorLast.toFixed(1)),
      totalAfterWarmUp: Number(heapTotalMiB(steady[0]).toFixed(1)),
      totalAtEnd: Number(heapTotalMiB(steady.at(-1)).toFixed(1)),
      totalMax: Number(Math.max(...samples.map(heapTotalMiB)).toFixed(1)),
    },
    cpuPercent: Number((((finalSample.cpuS ?? 0) / Math.max(1, finalSample.tS)) * 100).toFixed(1)),
    lagP99Ms: {
      median: Number(((lagP99s[Math.floor(lagP99s.length / 2)] ?? 0) * 1000).toFixed(1)),
      max: Number(((lagP99s.at(-1) ?? 0) * 1000).toFixed(1)),
    },
    bridgeExit,
    produceError: produceError === undefined ? undefined : String(produceError),
    final: finalSample,
  };
  await writeFile(join(reportDir, 'samples.json'), JSON.stringify(samples, null, 1));
  await writeFile(join(reportDir, 'summary.json'), JSON.stringify(summary, null, 2));

  console.log(`\nbridge NODE_OPTIONS: ${bridgeNodeOptions === '' ? '(none)' : bridgeNodeOptions}`);
  console.log(
    `RSS first third ${firstThird.toFixed(1)} MiB, last third ${lastThird.toFixed(1)} MiB (${(growth * 100).toFixed(1)}%): ${flat ? 'flat' : 'GROWING'}`,
  );
  console.log(
    `heap used after GC (lowest per third) ${heapFloorFirst.toFixed(1)} -> ${heapFloorLast.toFixed(1)} MiB; heap total ${summary.heapMiB.totalAfterWarmUp} MiB after warm-up, ${summary.heapMiB.totalAtEnd} MiB at the end (max ${summary.heapMiB.totalMax}); bridge CPU ${summary.cpuPercent}% of one core`,
  );
  console.log(
    `event-loop lag p99 (per 10 s window): median ${summary.lagP99Ms.median} ms, worst ${summary.lagP99Ms.max} ms`,
  );
  console.log(
    `calls per delivered event: ${stats.calls} sandbox calls / ${stats.accepted} distinct accepted = ${callsPerDelivered.toFixed(3)}`,
  );
  console.log(
    `sandbox outcomes: ${JSON.stringify(stats.byOutcome)}; peak calls in a rolling second: ${peakAtRateCheck.peak} at the rate check (admitted or 429), ${peakAllArrivals.peak} with outage answers`,
  );
  for (const call of throttled) {
    console.log(
      `  429 at ${call.atS} s: ${call.atRateCheckInPrecedingSecond} calls at the rate check in the second up to it; last outage answer ${call.sinceLastOutageAnswerS ?? '-'} s before`,
    );
  }
  console.log(
    `accounting: produced ${produced.length} (${valid.length} valid, ${invalid.length} invalid) = settled ${settled} + pending at stop ${pendingAtStop}; dead-lettered ${deadLettered ?? '?'}; valid in sandbox ${valid.length - lost.length}; lost ${lost.length}`,
  );
  console.log(
    `outages (${outageMs} ms) at s: ${outages.join(', ')}; drain ${drainS} s; bridge exit ${bridgeExit}`,
  );
  console.log(`summary: ${join(reportDir, 'summary.json')}`);
  const ok = lost.length === 0 && flat && bridgeExit === 0 && deadLettered === invalid.length;
  console.log(ok ? 'soak: PASS' : 'soak: FAIL');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
