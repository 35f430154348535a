/**
 * What the delivery engine costs on top of the HTTP calls themselves.
 *
 * Against an unthrottled sandbox (no rate or daily limit) and with the limiter disabled, three
 * ways post the same bodies at the same concurrency over the same kind of keep-alive pool:
 *   bare    an undici Pool loop: serialize, POST, read the answer. The baseline.
 *   engine  createDeliveryEngine().deliver(): validation, size check, limiter, outcome policy, events.
 *   send    `gong-bridge send --no-limiter` on a JSON Lines file: the engine plus file reading,
 *           the checkpoint and the progress reporter.
 * Each is run several times, alternating, and the median throughput is compared with bare's
 * (target: ratio >= 0.9).
 *
 *   npm run bench:engine                 # defaults: 2000 events, concurrency 16, 5 runs
 *   EVENTS=5000 CONCURRENCY=32 RUNS=7 npm run bench:engine
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';
import { runSend, type SendSummary } from '../src/cli/commands/send.ts';
import { createDeliveryEngine } from '../src/delivery/engine.ts';
import { DisabledLimiter } from '../src/delivery/rate-limit/disabled-limiter.ts';
import { systemClock, systemSleep } from '../src/shared/time.ts';
import { createGongClient } from '../src/gong/client.ts';

const events = Number(process.env.EVENTS ?? 2_000);
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const runs = Number(process.env.RUNS ?? 5);
const KEY = 'bench-key';
const SECRET = 'bench-secret';
const authorization = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;

// The sandbox runs in its own process, as Gong would: in-process it would share the event loop
// with the client and hide the client's cost behind its own.
const child = spawn(
  process.execPath,
  [
    fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)),
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
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const sandbox = {
  url: await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening on (\S+)/.exec(seen);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${String(code)}`)));
  }),
  async reset() {
    const answer = await request(`${this.url}/_sandbox/reset`, { method: 'POST' });
    await answer.body.text();
  },
  async close() {
    child.kill('SIGTERM');
    await once(child, 'exit');
  },
};
const dir = await mkdtemp(join(tmpdir(), 'bench-engine-'));

function bodies(run: string): Record<string, unknown>[] {
  return Array.from({ length: events }, (_, n) => ({
    eventId: `bench-${run}-${n}`,
    timestamp: '2026-11-24T10:00:00Z',
    eventType: 'page viewed',
    sourceSystemName: 'bench',
    content: { contentTitle: 'Pricing', contentUrl: 'https://example.com/pricing', contentLabel: ['web'] },
    person: { email: `p${n}@example.com`, company: { domain: 'example.com' } },
  }));
}

/** Runs `work` over items with at most `concurrency` in flight. */
async function pool<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

async function bare(run: string): Promise<number> {
  const items = bodies(run);
  const http = new Pool(sandbox.url, { connections: concurrency, pipelining: 1 });
  const started = performance.now();
  const cpu = process.cpuUsage();
  let ok = 0;
  await pool(items, async (body) => {
    const answer = await http.request({
      method: 'POST',
      path: '/v2/digital-interaction',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await answer.body.text();
    if (answer.statusCode === 200) ok += 1;
  });
  const elapsed = performance.now() - started;
  lastCpuUsPerEvent = cpuPerEvent(cpu);
  await http.close();
  if (ok !== events) throw new Error(`bare: ${ok} of ${events} accepted`);
  return (events / elapsed) * 1000;
}

async function engine(run: string): Promise<number> {
  const items = bodies(run);
  const client = createGongClient({
    baseUrl: sandbox.url,
    auth: { kind: 'basic', accessKey: KEY, accessKeySecret: SECRET },
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 30_000,
    maxConnections: concurrency,
    clock: systemClock,
  });
  const e = createDeliveryEngine({
    client,
    limiter: new DisabledLimiter(),
    clock: systemClock,
    sleep: systemSleep,
    maxBodyBytes: 1_048_576,
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  let ok = 0;
  await pool(items, async (body) => {
    if ((await e.deliver(body)).kind === 'delivered') ok += 1;
  });
  const elapsed = performance.now() - started;
  lastCpuUsPerEvent = cpuPerEvent(cpu);
  await client.close();
  if (ok !== events) throw new Error(`engine: ${ok} of ${events} delivered`);
  return (events / elapsed) * 1000;
}

async function send(run: string): Promise<number> {
  const file = join(dir, `${run}.jsonl`);
  await writeFile(
    file,
    `${bodies(run)
      .map((b) => JSON.stringify(b))
      .join('\n')}\n`,
  );
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const started = performance.now();
  const cpu = process.cpuUsage();
  await runSend(
    [file, '--no-limiter', '--concurrency', String(concurrency), '--json'],
    {
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
      env: {
        GONG_BASE_URL: sandbox.url,
        GONG_ACCESS_KEY: KEY,
        GONG_ACCESS_KEY_SECRET: SECRET,
        GONG_MAX_CONNECTIONS: String(concurrency),
      },
      cwd: dir,
      signal: new AbortController().signal,
    },
    { clock: systemClock, sleep: systemSleep },
  );
  const elapsed = performance.now() - started;
  lastCpuUsPerEvent = cpuPerEvent(cpu);
  const summary = JSON.parse(text) as SendSummary;
  if (summary.delivered !== events) throw new Error(`send: ${summary.delivered} of ${events} delivered`);
  return (events / elapsed) * 1000;
}

/**
 * Client CPU per event (user + system of this process): throughput on a shared machine swings with
 * the neighbours' load, CPU spent per event much less, so it is the steadier overhead figure.
 */
let lastCpuUsPerEvent = 0;
function cpuPerEvent(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / events;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const results: Record<'bare' | 'engine' | 'send', number[]> = { bare: [], engine: [], send: [] };
const cpuResults: Record<'bare' | 'engine' | 'send', number[]> = { bare: [], engine: [], send: [] };
// One warm-up of each so JIT and connection set-up are not in the figures.
await bare('warm-bare');
await engine('warm-engine');
await send('warm-send');
for (let run = 0; run < runs; run += 1) {
  // Rotate the order so drift on a shared machine does not favour one contender.
  const order = (['bare', 'engine', 'send'] as const).map(
    (_, i, all) => all[(i + run) % all.length] as (typeof all)[number],
  );
  for (const name of order) {
    await sandbox.reset();
    const fn = name === 'bare' ? bare : name === 'engine' ? engine : send;
    results[name].push(await fn(`${name}-${run}`));
    cpuResults[name].push(lastCpuUsPerEvent);
  }
}

const bareMedian = median(results.bare);
console.log(
  `engine overhead: ${events} events, concurrency ${concurrency}, ${runs} runs, unthrottled sandbox in its own process`,
);
for (const name of ['bare', 'engine', 'send'] as const) {
  const m = median(results[name]);
  console.log(
    `  ${name.padEnd(7)} median ${m.toFixed(0).padStart(6)} events/s  ratio ${(m / bareMedian).toFixed(3)}  ` +
      `client CPU ${median(cpuResults[name]).toFixed(1)} µs/event  runs ${results[name].map((v) => v.toFixed(0)).join(' ')}`,
  );
}
// Each round's ratio compares runs made seconds apart, so load from neighbours on a shared
// machine cancels out better than in a ratio of medians; both are printed.
const pairedRatio = (name: 'engine' | 'send') =>
  median(results[name].map((value, round) => value / (results.bare[round] as number)));
for (const name of ['engine', 'send'] as const) {
  console.log(
    `ratio ${name}/bare: median of per-round ratios ${pairedRatio(name).toFixed(3)}, ratio of medians ${(median(results[name]) / bareMedian).toFixed(3)} (target >= 0.9)`,
  );
}

await sandbox.close();
await rm(dir, { recursive: true, force: true });
