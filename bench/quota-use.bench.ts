/**
 * How much of Gong's per-second quota the bridge uses, against a strict server that counts
 * arrivals (issue 14 §6). The Gong sandbox runs in its own process and limits at R calls per
 * rolling second; the real delivery engine, Gong client and local limiter keep `concurrency`
 * deliveries waiting for `seconds`. Two variants, alternating, in the same run:
 *   fixed     every call keeps the whole GONG_RATE_MARGIN_MS (the limiter before issue 14 §6;
 *             its slots ignore their answers), the baseline;
 *   adaptive  each answered call keeps 2 ms plus its round trip above the fastest recent one.
 * Conditions: loopback, and a Toxiproxy latency toxic with jitter on the requests (the direction
 * that moves arrivals) for each `--latency L:J` (L ms +- J ms).
 *
 * Printed per condition and variant (medians of the runs): ratio = 1000 ms / the mean gap between
 * arrivals R places apart over the measured seconds (1 when every second is used to the full,
 * 1000 / 1050 with a fixed 50 ms margin); 429s; the most arrivals in any
 * rolling second; the seconds with more than R arrivals (arrivals whose trailing second held
 * more than R, 429s included: what a strict server counts). And adaptive / fixed.
 *
 *   node bench/quota-use.bench.ts [--seconds 40] [--rate 3] [--runs 3] [--concurrency 8]
 *                                 [--margin 50] [--latency 20:10,200:20]
 * The latency conditions need Toxiproxy (TOXIPROXY_URL, or the local stack's TOXIPROXY_PORT).
 */
import { parseArgs } from 'node:util';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { createDeliveryEngine } from '../src/delivery/engine.ts';
import type { CallSlot, RateLimiter } from '../src/delivery/limiter-types.ts';
import { LocalLimiter } from '../src/delivery/rate-limit/local-limiter.ts';
import { systemClock, systemSleep } from '../src/delivery/system-time.ts';
import { createGongClient } from '../src/gong/client.ts';
import { startSandboxProcess } from '../src/sandbox/child-process.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '40' },
    rate: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    margin: { type: 'string', default: '50' },
    latency: { type: 'string', default: '20:10,200:20' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const margin = Number(values.margin);
const latencies = values.latency
  .split(',')
  .filter((entry) => entry !== '')
  .map((entry) => {
    const [latency, jitter] = entry.split(':').map(Number);
    return { latency: latency ?? 0, jitter: jitter ?? 0 };
  });
const KEY = 'bench-key';
const SECRET = 'bench-secret';

const sandbox = await startSandboxProcess([
  '--rps',
  String(rate),
  '--daily-limit',
  '0',
  '--keep-bodies',
  '0',
  '--access-key',
  KEY,
  '--access-key-secret',
  SECRET,
]);
const sandboxUrl = sandbox.url;
const sandboxJson = <T>(path: string, method: 'GET' | 'POST' = 'GET') => sandbox.json<T>(path, method);

/** A limiter whose slots never hear their answers: every call keeps the whole margin. */
function fixedMargin(limiter: RateLimiter): RateLimiter {
  return {
    async acquire(signal) {
      const slot = await limiter.acquire(signal);
      let wired = false;
      const fixed: CallSlot = {
        onWire: () => {
          wired = true;
          slot.onWire();
        },
        // Only a call that never left is handed back, as before; an answer settles nothing.
        release: () => (wired ? undefined : slot.release()),
      };
      return fixed;
    },
    onThrottled: (ms) => limiter.onThrottled(ms),
    snapshot: () => limiter.snapshot(),
    close: () => limiter.close(),
  };
}

interface Outcome {
  readonly ratio: number;
  readonly throttled: number;
  readonly peak: number;
  readonly secondsOver: number;
}

async function measure(baseUrl: string, variant: 'fixed' | 'adaptive', run: string): Promise<Outcome> {
  const local = new LocalLimiter({
    ratePerSecond: rate,
    dailyLimit: 1_000_000,
    dailyWindow: 'rolling',
    windowMarginMs: margin,
    clock: systemClock,
    sleep: systemSleep,
  });
  const limiter = variant === 'fixed' ? fixedMargin(local) : local;
  const client = createGongClient({
    baseUrl,
    auth: { kind: 'basic', accessKey: KEY, accessKeySecret: SECRET },
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 30_000,
    maxConnections: concurrency,
    clock: systemClock,
  });
  // Warm the path up on calls of its own before the sandbox counts: a freshly started sandbox took
  // ~90 ms to hand its first requests to its handler (compiling), which says nothing about Gong.
  for (let i = 0; i < 20; i += 1)
    await client.postDigitalInteraction(JSON.stringify({ eventId: `warm-${run}-${i}` }));
  await sandboxJson('/_sandbox/reset', 'POST');
  const engine = createDeliveryEngine({
    client,
    limiter,
    clock: systemClock,
    sleep: systemSleep,
    maxBodyBytes: 1_048_576,
  });
  const stop = new AbortController();
  let n = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stop.signal.aborted) {
      const body = {
        eventId: `q-${run}-${n++}`,
        timestamp: '2026-11-24T10:00:00Z',
        eventType: 'page viewed',
        content: { contentTitle: 'Pricing' },
        trackingId: 't',
      };
      await engine.deliver(body, { signal: stop.signal }).catch(() => undefined);
    }
  });
  // A second more than measured, so the measured seconds are all at full demand.
  await systemSleep((seconds + 1.5) * 1000);
  stop.abort();
  await Promise.all(workers);
  engine.close();
  await client.close();
  await limiter.close();
  const { calls } = await sandboxJson<{ calls: { t: number; status: number }[] }>('/_sandbox/calls');
  if (process.env.QUOTA_BENCH_DEBUG !== undefined) {
    for (const [i, call] of calls.entries()) {
      if (call.status !== 429) continue;
      const around = calls
        .slice(Math.max(0, i - 7), i + 1)
        .map((c) => `${(c.t - calls[0]!.t).toFixed(1)}:${c.status}`);
      console.log(`  ${variant} 429: ${around.join(' ')}`);
    }
  }
  const counted = calls.filter((call) => call.status !== 503).map((call) => call.t);
  const t0 = counted[0] ?? 0;
  const capacity = Math.floor(rate);
  // At full use the call R places after another arrives exactly a second after it: the ratio is
  // a second over the mean of those gaps, over the measured seconds.
  const admitted = calls
    .filter((call) => call.status !== 429 && call.status !== 503 && call.t < t0 + seconds * 1000)
    .map((call) => call.t);
  let gaps = 0;
  for (let i = capacity; i < admitted.length; i += 1) gaps += admitted[i]! - admitted[i - capacity]!;
  let peak = 0;
  let secondsOver = 0;
  for (let hi = 0, lo = 0; hi < counted.length; hi += 1) {
    while (counted[hi]! - counted[lo]! >= 1000) lo += 1;
    const inWindow = hi - lo + 1;
    peak = Math.max(peak, inWindow);
    if (inWindow > capacity) secondsOver += 1;
  }
  return {
    ratio: (1000 * (admitted.length - capacity)) / gaps,
    throttled: calls.filter((call) => call.status === 429).length,
    peak,
    secondsOver,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function toxiproxy(): Promise<Toxiproxy | undefined> {
  const url =
    process.env.TOXIPROXY_URL ??
    (process.env.TOXIPROXY_PORT === undefined ? undefined : `http://127.0.0.1:${process.env.TOXIPROXY_PORT}`);
  if (url === undefined) return undefined;
  const client = new Toxiproxy(url);
  try {
    await client.getVersion();
    return client;
  } catch {
    return undefined;
  }
}

console.log(
  `quota use against a strict sandbox (own process) at ${rate}/s, ${seconds} s per run, ${runs} runs, ` +
    `concurrency ${concurrency}, GONG_RATE_MARGIN_MS ${margin}, node ${process.version}`,
);
console.log(
  'condition              variant    ratio   429s  peak/s  seconds>R   (medians; per run: ratio/429s)',
);
const proxies = await toxiproxy();
const conditions: { name: string; setUp(): Promise<{ url: string; tearDown(): Promise<void> }> }[] = [
  { name: 'loopback', setUp: async () => ({ url: sandboxUrl, tearDown: async () => undefined }) },
  ...latencies.map(({ latency, jitter }) => ({
    name: `latency ${latency}+-${jitter} ms`,
    async setUp() {
      if (proxies === undefined) throw new Error('no Toxiproxy (set TOXIPROXY_URL or TOXIPROXY_PORT)');
      const proxy: Proxy = await proxies.createProxy({
        name: `quota-bench-${process.pid}-${latency}-${jitter}`,
        listen: '127.0.0.1:0',
        upstream: new URL(sandboxUrl).host,
      });
      await proxy.addToxic({
        name: 'latency',
        type: 'latency',
        stream: 'upstream',
        toxicity: 1,
        attributes: { latency, jitter },
      });
      return { url: `http://${proxy.listen}`, tearDown: () => proxy.remove() };
    },
  })),
];
for (const condition of conditions) {
  let setUp: { url: string; tearDown(): Promise<void> };
  try {
    setUp = await condition.setUp();
  } catch (error) {
    console.log(
      `${condition.name.padEnd(22)} skipped: ${error instanceof Error ? error.message : String(error)}`,
    );
    continue;
  }
  const results: Record<'fixed' | 'adaptive', Outcome[]> = { fixed: [], adaptive: [] };
  for (let run = 0; run < runs; run += 1) {
    for (const variant of run % 2 === 0
      ? (['fixed', 'adaptive'] as const)
      : (['adaptive', 'fixed'] as const)) {
      results[variant].push(await measure(setUp.url, variant, `${condition.name}-${variant}-${run}`));
    }
  }
  await setUp.tearDown();
  for (const variant of ['fixed', 'adaptive'] as const) {
    const list = results[variant];
    console.log(
      [
        condition.name.padEnd(22),
        variant.padEnd(9),
        median(list.map((r) => r.ratio))
          .toFixed(4)
          .padStart(7),
        String(median(list.map((r) => r.throttled))).padStart(6),
        String(Math.max(...list.map((r) => r.peak))).padStart(7),
        String(median(list.map((r) => r.secondsOver))).padStart(10),
        `   ${list.map((r) => `${r.ratio.toFixed(4)}/${r.throttled}`).join(' ')}`,
      ].join(' '),
    );
  }
  console.log(
    `${condition.name.padEnd(22)} adaptive / fixed ${(median(results.adaptive.map((r) => r.ratio)) / median(results.fixed.map((r) => r.ratio))).toFixed(4)}`,
  );
}
await sandbox.close();
