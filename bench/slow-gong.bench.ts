/**
 * The limiter and the engine against a slow Gong with a pool smaller than the records in flight
 * (issue 14 §1): does a call's grant stay its departure? Each run delivers through the real engine,
 * Gong client and limiter to the sandbox in its own process, which counts every arrival. Gong
 * answers in 100-400 ms, except that every `stall-every-ms` it stalls: calls arriving in the next
 * `stall-ms` are all answered `stall-latency-ms` (2 s) after the stall began. That makes the p99
 * answer time about 2 s and ties up every connection until they all free up at once, the moment
 * granted calls used to pile up inside undici and leave together.
 * It prints, per rate:
 *   ratio        arrivals in the measuring window / (rate x seconds): the allowed rate is the baseline
 *   maxRolling   the most arrivals at the sandbox in any rolling 1000 ms (must be <= rate)
 *   overSeconds  seconds of the run in which some rolling second held more than `rate` arrivals
 *                (must be 0)
 *   wire max     the most calls written in any rolling 1000 ms + margin, on the client: what the
 *                limiter controls; the sandbox's own stamps add its scheduling delay on a busy host
 *   grant->wire  p99 and max delay between a call's grant and its request being written
 *   answer       the answer time as the client saw it, p50/p99
 *
 *   node bench/slow-gong.bench.ts [--seconds 60] [--rates 3,10,45] [--connections 2,4,16]
 *                                 [--in-flight 32] [--margin-ms 50] [--stall-every-ms 10000]
 *                                 [--stall-ms 1000] [--stall-latency-ms 2000]
 *                                 [--redis redis://host:6379 [--replicas 2]]
 *
 * `--connections` pairs with `--rates` (one pool size per rate). With --redis the rate is shared by
 * `replicas` engines, each with its own pool, limiter and records in flight, as replicas would.
 */
import { parseArgs } from 'node:util';
import { createDeliveryEngine, type DeliveryEngine } from '../src/delivery/engine.ts';
import type { ObservableRateLimiter } from '../src/delivery/limiter-types.ts';
import { LocalLimiter } from '../src/delivery/rate-limit/local-limiter.ts';
import { RedisLimiter } from '../src/delivery/rate-limit/redis-limiter.ts';
import { defaultRetryPolicy } from '../src/delivery/retry-policy.ts';
import { systemClock, systemSleep } from '../src/delivery/system-time.ts';
import { createGongClient, type GongClient } from '../src/gong/client.ts';
import { startSandboxProcess } from '../src/sandbox/child-process.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rates: { type: 'string', default: '3,10,45' },
    connections: { type: 'string', default: '2,4,16' },
    'in-flight': { type: 'string', default: '32' },
    'margin-ms': { type: 'string', default: '50' },
    'stall-every-ms': { type: 'string', default: '10000' },
    'stall-ms': { type: 'string', default: '2000' },
    'stall-latency-ms': { type: 'string', default: '2000' },
    redis: { type: 'string' },
    replicas: { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);
const pools = values.connections.split(',').map(Number);
const inFlight = Number(values['in-flight']);
const marginMs = Number(values['margin-ms']);
const stallEveryMs = Number(values['stall-every-ms']);
const stallMs = Number(values['stall-ms']);
const stallLatencyMs = Number(values['stall-latency-ms']);
const calm = { latencyMs: 100, latencyJitterMs: 300 };
const redisUrl = values.redis;
const replicas = redisUrl === undefined ? 1 : Math.max(1, Number(values.replicas));
if (
  !(seconds > 0) ||
  rates.some((rate) => !(rate > 0)) ||
  pools.length !== rates.length ||
  pools.some((size) => !(size >= 1) || size >= inFlight)
) {
  console.error(
    'usage: node bench/slow-gong.bench.ts [--seconds N] [--rates 3,10,45] [--connections 2,4,16] (one pool per rate, ' +
      'each smaller than --in-flight) [--in-flight 32] [--redis URL [--replicas 2]]',
  );
  process.exit(2);
}

const KEY = 'bench-key';
const SECRET = 'bench-secret';

interface Result {
  rate: number;
  connections: number;
  arrivals: number;
  ratio: number;
  maxRolling: number;
  overSeconds: number;
  wireMax: number;
  grantToWireP99: number;
  grantToWireMax: number;
  answerP50: number;
  answerP99: number;
}

async function measure(rate: number, connections: number): Promise<Result> {
  const sandbox = await startSandboxProcess([
    '--rps',
    '0',
    '--daily-limit',
    '0',
    '--keep-bodies',
    '0',
    '--latency-ms',
    String(calm.latencyMs),
    '--latency-jitter-ms',
    String(calm.latencyJitterMs),
    '--access-key',
    KEY,
    '--access-key-secret',
    SECRET,
  ]);
  const prefix = `bench-slow-${process.pid}-${rate}-${performance.now()}`;
  const parts: { client: GongClient; limiter: ObservableRateLimiter; engine: DeliveryEngine }[] = [];
  for (let replica = 0; replica < replicas; replica += 1) {
    const client = createGongClient({
      baseUrl: sandbox.url,
      auth: { kind: 'basic', accessKey: KEY, accessKeySecret: SECRET },
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 30_000,
      maxConnections: connections,
      clock: systemClock,
    });
    const limiter: ObservableRateLimiter =
      redisUrl === undefined
        ? new LocalLimiter({
            ratePerSecond: rate,
            dailyLimit: 1_000_000_000,
            dailyWindow: 'rolling',
            windowMarginMs: marginMs,
            clock: systemClock,
            sleep: systemSleep,
          })
        : new RedisLimiter({
            redisUrl,
            keyPrefix: prefix,
            ratePerSecond: rate,
            dailyLimit: 1_000_000_000,
            dailyWindow: 'rolling',
            windowMarginMs: marginMs,
            expectedReplicas: replicas,
            clock: systemClock,
            sleep: systemSleep,
          });
    const engine = createDeliveryEngine({
      client: timed(client, limiter),
      limiter,
      clock: systemClock,
      sleep: systemSleep,
      retry: defaultRetryPolicy,
      maxBodyBytes: 1_048_576,
    });
    parts.push({ client, limiter, engine });
  }
  const answers: number[] = [];
  for (const { engine } of parts) {
    engine.events.on('call', (call) => {
      if (call.status === 200) answers.push(call.durationMs);
    });
  }
  const stop = new AbortController();
  const stalls = setInterval(() => void stall(sandbox), stallEveryMs);
  let next = 0;
  const worker = async (engine: DeliveryEngine) => {
    while (!stop.signal.aborted) {
      const n = next++;
      const body = {
        eventId: `${prefix}-${n}`,
        timestamp: '2026-11-24T10:00:00Z',
        eventType: 'page viewed',
        content: { contentTitle: 'Pricing' },
        trackingId: `trk-${n}`,
      };
      await engine.deliver(body, { signal: stop.signal }).catch(() => {});
    }
  };
  const workers = parts.flatMap(({ engine }) =>
    Array.from({ length: Math.ceil(inFlight / replicas) }, () => worker(engine)),
  );
  await systemSleep(seconds * 1000 + 500);
  clearInterval(stalls);
  stop.abort();
  await Promise.all(workers);
  for (const { engine, limiter, client } of parts) {
    engine.close();
    await limiter.close();
    await client.close();
  }
  const arrivals = (await sandbox.calls()).map((call) => call.t).sort((a, b) => a - b);
  await sandbox.close();

  const t0 = arrivals[0] ?? 0;
  const inWindow = arrivals.filter((t) => t < t0 + seconds * 1000);
  const capacity = Math.max(1, Math.floor(rate));
  let maxRolling = 0;
  const over = new Set<number>();
  for (let lo = 0, hi = 0; hi < arrivals.length; hi += 1) {
    while (arrivals[hi]! - arrivals[lo]! >= 1000) lo += 1;
    const count = hi - lo + 1;
    maxRolling = Math.max(maxRolling, count);
    if (count > capacity) over.add(Math.floor((arrivals[hi]! - t0) / 1000));
  }
  answers.sort((a, b) => a - b);
  const pick = (sorted: number[], q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  wires.sort((a, b) => a - b);
  const gaps = [...grantToWire].sort((a, b) => a - b);
  let wireMax = 0;
  for (let lo = 0, hi = 0; hi < wires.length; hi += 1) {
    while (wires[hi]! - wires[lo]! >= 1000 + marginMs) lo += 1;
    wireMax = Math.max(wireMax, hi - lo + 1);
  }
  wires.length = 0;
  grantToWire.length = 0;
  return {
    rate,
    connections,
    arrivals: inWindow.length,
    ratio: inWindow.length / (rate * seconds),
    maxRolling,
    overSeconds: over.size,
    wireMax,
    grantToWireP99: pick(gaps, 0.99),
    grantToWireMax: gaps.at(-1) ?? 0,
    answerP50: pick(answers, 0.5),
    answerP99: pick(answers, 0.99),
  };
}

/**
 * Gong stalls: it answers nothing for `stallMs`, then everything at once, `stallLatencyMs` after
 * the stall began (the sandbox's latency is re-set every 20 ms to the time left). Every connection
 * is tied up meanwhile, and they all free up together when it ends.
 */
async function stall(sandbox: { setFaults(patch: object): Promise<void> }): Promise<void> {
  const endsAt = performance.now() + stallLatencyMs;
  const stopsAt = performance.now() + stallMs;
  while (performance.now() < stopsAt) {
    await sandbox.setFaults({ latencyMs: Math.round(endsAt - performance.now()), latencyJitterMs: 0 });
    await systemSleep(20);
  }
  await sandbox.setFaults(calm);
}

/** Client-side departures: when each call was granted and when its request was written. */
const wires: number[] = [];
const grantToWire: number[] = [];

function timed(client: GongClient, limiter: ObservableRateLimiter): GongClient {
  let grantedAt: number[] = [];
  limiter.on('acquired', () => grantedAt.push(performance.now()));
  return {
    ...client,
    acquireConnection: (signal) => client.acquireConnection(signal),
    invalidateCredentials: () => client.invalidateCredentials(),
    close: () => client.close(),
    postDigitalInteraction(body, signal, onWire) {
      // The engine posts right after its grant, in the same turn: the latest grant is this call's.
      const granted = grantedAt.at(-1) ?? performance.now();
      grantedAt = [];
      return client.postDigitalInteraction(body, signal, () => {
        const now = performance.now();
        wires.push(now);
        grantToWire.push(now - granted);
        onWire?.();
      });
    },
  };
}

const kind = redisUrl === undefined ? 'local limiter' : `Redis limiter x ${replicas} replicas`;
console.log(
  `slow Gong: ${kind}, margin ${marginMs} ms, answers in 100-400 ms and ${stallLatencyMs} ms during a ` +
    `${stallMs} ms stall every ${stallEveryMs} ms, ${inFlight} records in flight, ${seconds} s per run, ` +
    `node ${process.version}`,
);
console.log(
  'rate/s  pool  arrivals   ratio  maxRolling  overSeconds  wire max  grant->wire p99/max ms  answer p50/p99 ms',
);
let failed = false;
for (const [index, rate] of rates.entries()) {
  const r = await measure(rate, pools[index]!);
  const ok = r.overSeconds === 0;
  failed ||= !ok;
  console.log(
    [
      String(r.rate).padEnd(7),
      String(r.connections).padStart(4),
      String(r.arrivals).padStart(9),
      r.ratio.toFixed(4).padStart(7),
      String(r.maxRolling).padStart(11),
      `${r.overSeconds}${ok ? '' : ' OVER LIMIT'}`.padStart(12),
      String(r.wireMax).padStart(9),
      `${r.grantToWireP99.toFixed(1)}/${r.grantToWireMax.toFixed(1)}`.padStart(23),
      `  ${Math.round(r.answerP50)}/${Math.round(r.answerP99)}`,
    ].join(' '),
  );
}
process.exitCode = failed ? 1 : 0;
