/**
 * How close the limiter comes to its configured rate on real time and real timers, and proof
 * that it never goes over: for each rate it keeps plenty of callers waiting and records every
 * start, then reports
 *   ratio      grants in the measuring window / (rate x seconds)   (target >= 0.99)
 *   maxRolling the most grants in any rolling 1000 ms              (must be <= floor(rate))
 *   over       grants whose trailing 1000 ms held more than floor(rate) grants (must be 0)
 *   observed   the same as maxRolling, timed when the caller resumes after `await acquire()`
 *   late p50/p99/max  how long a slot stood open before a waiting caller took it (over-sleep)
 *
 * Each caller goes the way the engine does: the call leaves at once (`onWire`) and its answer
 * comes back `--answer-ms` later (`release`), which settles its margin. With `--margin M`
 * (GONG_RATE_MARGIN_MS) the ratio shows what the margin costs when answers come back that fast.
 * `--no-wire` measures the limiter alone, every start counted from its grant (as before issue 14);
 * at burst 1 the difference is the event-loop lag between a grant and its caller's `onWire`.
 *
 *   node bench/limiter-fidelity.bench.ts [--seconds 60] [--rates 3,50,500] [--burst default|1|both]
 *                                        [--margin 0] [--answer-ms 0] [--no-wire]
 *                                        [--redis redis://host:6379 [--replicas 3]]
 *
 * With --redis it measures the cluster-wide limiter instead: `replicas` RedisLimiter instances
 * share the rate, and grants are timed on Redis TIME.
 */
import { parseArgs } from 'node:util';
import type { ObservableRateLimiter } from '../src/delivery/limiter-types.ts';
import { LocalLimiter } from '../src/delivery/rate-limit/local-limiter.ts';
import { RedisLimiter } from '../src/delivery/rate-limit/redis-limiter.ts';
import { systemClock, systemSleep } from '../src/delivery/system-time.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rates: { type: 'string', default: '3,50,500' },
    burst: { type: 'string', default: 'both' },
    redis: { type: 'string' },
    replicas: { type: 'string', default: '3' },
    margin: { type: 'string', default: '0' },
    'answer-ms': { type: 'string', default: '0' },
    'no-wire': { type: 'boolean', default: false },
  },
});
const marginMs = Number(values.margin);
const answerMs = Number(values['answer-ms']);
// The limiter alone, as this bench measured it before issue 14: slots are neither reported on the
// wire nor released, so every start counts from its grant.
const noWire = values['no-wire'] === true;
const seconds = Number(values.seconds);
const redisUrl = values.redis;
const replicas = redisUrl === undefined ? 1 : Math.max(1, Number(values.replicas));
const rates = values.rates.split(',').map(Number);
const bursts: (number | undefined)[] =
  values.burst === 'both' ? [undefined, 1] : values.burst === '1' ? [1] : [undefined];
if (!(seconds > 0) || rates.some((rate) => !(rate > 0))) {
  console.error(
    'usage: node bench/limiter-fidelity.bench.ts [--seconds N] [--rates 3,50,500] [--burst default|1|both]',
  );
  process.exit(2);
}

interface Result {
  rate: number;
  burst: string;
  seconds: number;
  starts: number;
  ratio: number;
  maxRolling: number;
  over: number;
  maxRollingObserved: number;
  lateP50: number;
  lateP99: number;
  lateMax: number;
}

async function measure(rate: number, burst: number | undefined, runSeconds = seconds): Promise<Result> {
  const prefix = `bench-${process.pid}-${rate}-${burst ?? 'default'}-${performance.now()}`;
  const limiters: ObservableRateLimiter[] = Array.from({ length: replicas }, () =>
    redisUrl === undefined
      ? new LocalLimiter({
          ratePerSecond: rate,
          burst,
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
          burst,
          dailyLimit: 1_000_000_000,
          dailyWindow: 'rolling',
          windowMarginMs: marginMs,
          expectedReplicas: replicas,
          clock: systemClock,
          sleep: systemSleep,
        }),
  );
  const starts: number[] = [];
  // The moment the limiter grants (what it guarantees) and the moment the caller's code runs
  // after `await acquire()` (what a server would see, plus event-loop latency).
  const grants: number[] = [];
  for (const limiter of limiters) {
    limiter.on('acquired', (e) => grants.push(e.serverTimeMs ?? e.grantedAt));
  }
  const controller = new AbortController();
  // Enough callers that one is always waiting when a slot opens.
  const callers = Math.max(4, Math.min(2_000, 2 * Math.ceil(rate)));
  const loops = Array.from({ length: callers }, async (_, i) => {
    const limiter = limiters[i % limiters.length]!;
    while (!controller.signal.aborted) {
      try {
        const slot = await limiter.acquire(controller.signal);
        starts.push(performance.now());
        if (!noWire) {
          slot.onWire();
          if (answerMs > 0) setTimeout(() => slot.release(), answerMs);
          else slot.release();
        }
      } catch {
        return;
      }
    }
  });
  await systemSleep(runSeconds * 1000 + 200);
  controller.abort();
  await Promise.all(loops);
  await Promise.all(limiters.map((limiter) => limiter.close()));
  // Several replicas report out of order.
  grants.sort((a, b) => a - b);

  // Ratio and lateness are taken on the grants, the limiter's own decisions; `observed` below
  // shows what the callers saw after their await.
  const t0 = grants[0] ?? 0;
  const inWindow = grants.filter((t) => t < t0 + runSeconds * 1000);
  const capacity = Math.max(1, Math.floor(rate));
  // A slot opens when the start `capacity` places back leaves the window (or, paced, one
  // interval after the previous start); lateness is how long it stayed open.
  const late: number[] = [];
  for (let i = 1; i < inWindow.length; i += 1) {
    const opens =
      burst === 1 || rate < 1
        ? inWindow[i - 1]! + 1000 / rate
        : i >= capacity
          ? inWindow[i - capacity]! + 1000
          : inWindow[i - 1]!;
    late.push(Math.max(0, inWindow[i]! - opens));
  }
  late.sort((a, b) => a - b);
  const pick = (q: number): number => late[Math.min(late.length - 1, Math.floor(q * late.length))] ?? 0;
  const maxRolling = maxInRollingSecond(grants);
  const over = overInRollingSecond(grants, capacity);
  const maxRollingObserved = maxInRollingSecond(starts);
  return {
    rate,
    burst: burst === undefined ? `${capacity} (default)` : String(burst),
    seconds: runSeconds,
    starts: inWindow.length,
    ratio: inWindow.length / (rate * runSeconds),
    maxRolling,
    over,
    maxRollingObserved,
    lateP50: pick(0.5),
    lateP99: pick(0.99),
    lateMax: late.at(-1) ?? 0,
  };
}

/** How many moments have more than `capacity` moments (themselves included) in their trailing second. */
function overInRollingSecond(times: readonly number[], capacity: number): number {
  let over = 0;
  for (let lo = 0, hi = 0; hi < times.length; hi += 1) {
    while (times[hi]! - times[lo]! >= 1000) lo += 1;
    if (hi - lo + 1 > capacity) over += 1;
  }
  return over;
}

function maxInRollingSecond(times: readonly number[]): number {
  let max = 0;
  for (let lo = 0, hi = 0; hi < times.length; hi += 1) {
    while (times[hi]! - times[lo]! >= 1000) lo += 1;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

const kind = redisUrl === undefined ? 'local limiter' : `Redis limiter x ${replicas} replicas (Redis TIME)`;
console.log(
  `limiter fidelity: ${kind}, real clock and timers, ${seconds} s per run, margin ${marginMs} ms, ` +
    `answers after ${answerMs} ms, node ${process.version}`,
);
// Warm up first: the first calls through freshly loaded code run slower, which would show up
// as jitter in the first measured second rather than as anything the limiter does.
for (const rate of rates) await measure(rate, undefined, 1);

console.log(
  'maxRolling: most grants in any rolling 1000 ms; observed: the same, timed after `await acquire()`',
);
console.log('rate/s  burst          starts   ratio   maxRolling  over  observed  late p50/p99/max ms');
let failed = false;
for (const rate of rates) {
  for (const burst of bursts) {
    const r = await measure(rate, burst);
    const ok = r.maxRolling <= Math.max(1, Math.floor(rate)) && r.over === 0;
    failed ||= !ok;
    console.log(
      [
        String(r.rate).padEnd(7),
        r.burst.padEnd(14),
        String(r.starts).padStart(7),
        r.ratio.toFixed(4).padStart(7),
        `${r.maxRolling}${ok ? '' : ' OVER LIMIT'}`.padStart(11),
        String(r.over).padStart(5),
        String(r.maxRollingObserved).padStart(9),
        `  ${r.lateP50.toFixed(2)}/${r.lateP99.toFixed(2)}/${r.lateMax.toFixed(2)}`,
      ].join(' '),
    );
  }
}
process.exitCode = failed ? 1 : 0;
