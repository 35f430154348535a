import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSend, type SendSummary } from '../../src/cli/commands/send.ts';
import { LineProgress, readCheckpoint, writeCheckpoint } from '../../src/cli/send-checkpoint.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.ts';
import { isBridgeError } from '../../src/errors.ts';
import { sampleBody } from '../delivery/helpers.ts';
import { captureIo } from '../helpers/cli-io.ts';

/**
 * `gong-bridge send` end to end against the Gong sandbox: what reached the sandbox, what it
 * answered, and what the command reported. These are the acceptance checks of the delivery
 * engine (rate, faults, 429, auth halt), run through the backfill command that uses it.
 */

const KEY = 'send-key';
const SECRET = 'send-secret';
let dir: string;
const sandboxes: RunningSandbox[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gong-send-'));
});
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function sandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const started = await startSandbox({
    accessKey: KEY,
    accessKeySecret: SECRET,
    rps: 0,
    daily: 0,
    seed: 7,
    ...options,
  });
  sandboxes.push(started);
  return started;
}

async function bodiesFile(count: number, name = 'bodies.jsonl', prefix = 'send'): Promise<string> {
  const path = join(dir, name);
  const lines = Array.from({ length: count }, (_, n) => JSON.stringify(sampleBody(`${prefix}-${n}`)));
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

interface Run {
  code: number;
  summary: SendSummary;
  stderr: string;
}

async function send(
  args: string[],
  env: Record<string, string>,
  options: { signal?: AbortSignal; authProbeIntervalMs?: number; share?: string | null } = {},
): Promise<Run> {
  // Without REDIS_URL a run must say which part of the account's quota it takes (issue 14 §4);
  // these runs have the sandbox to themselves.
  const share =
    options.share === undefined ? ['--share', '1'] : options.share === null ? [] : ['--share', options.share];
  const cli = captureIo(
    { GONG_RETRY_BASE_MS: '5', GONG_RETRY_MAX_MS: '50', ...env },
    { cwd: dir, ...(options.signal === undefined ? {} : { signal: options.signal }) },
  );
  const code = await runSend([...args, ...share, '--json'], cli.io, {
    clock: systemClock,
    sleep: systemSleep,
    ...(options.authProbeIntervalMs === undefined
      ? {}
      : { authProbeIntervalMs: options.authProbeIntervalMs }),
  });
  return { code, summary: JSON.parse(cli.out()) as SendSummary, stderr: cli.err() };
}

const basicEnv = (url: string) => ({
  GONG_BASE_URL: url,
  GONG_ACCESS_KEY: KEY,
  GONG_ACCESS_KEY_SECRET: SECRET,
});

function acceptedIds(s: RunningSandbox): string[] {
  return s.accepted(0, 100_000).map((event) => event.eventId);
}

describe('send against the Gong sandbox (acceptance)', () => {
  it('(a) 200 events at sandbox rps 5 with our limiter at 5/s: all delivered, zero 429s', async () => {
    const s = await sandbox({ rps: 5 });
    const file = await bodiesFile(200);
    const run = await send([file, '--rps', '5', '--concurrency', '8'], basicEnv(s.url));
    expect(run.code).toBe(0);
    expect(run.summary).toMatchObject({ delivered: 200, duplicates: 0, rejected: 0, invalid: 0, calls: 200 });
    expect(run.summary.callsPerDelivered).toBe(1);
    const stats = s.stats();
    expect(stats.byStatus['429'] ?? 0).toBe(0);
    expect(stats.accepted).toBe(200);
    expect(stats.peakCallsPerRollingSecond).toBeLessThanOrEqual(5);
  }, 90_000);

  it('(b) 10% injected 5xx and 5% lost replies: each event accepted exactly once, lost replies count as delivered', async () => {
    const s = await sandbox({ faults: { failRate: 0.1, lostReplyRate: 0.05 }, seed: 42 });
    const file = await bodiesFile(200);
    const run = await send(
      [file, '--no-limiter', '--concurrency', '16', '--rejects', 'rejects.jsonl'],
      basicEnv(s.url),
    );
    const stats = s.stats();
    expect(run.code).toBe(0);
    expect(run.summary.rejected).toBe(0);
    expect(run.summary.invalid).toBe(0);
    expect(run.summary.delivered + run.summary.duplicates).toBe(200);
    const ids = acceptedIds(s);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    // Every lost reply was retried and came back as 409, which counted as delivered.
    const lost = stats.byOutcome['lost-reply'] ?? 0;
    expect(lost).toBeGreaterThan(0);
    expect(run.summary.duplicates).toBe(lost);
    expect(stats.byOutcome['injected-failure'] ?? 0).toBeGreaterThan(0);
    expect(run.summary.retries).toBe((stats.byOutcome['injected-failure'] ?? 0) + lost);
    expect(await readFile(join(dir, 'rejects.jsonl'), 'utf8')).toBe('');
  }, 60_000);

  it('(c) a 429 with Retry-After: 2 keeps every call of ours away from the sandbox for 2 s', async () => {
    const s = await sandbox();
    // Gong's own 429 is what we model; the sandbox only throttles by its limits, so a proxy in
    // front of it answers the first call 429 Retry-After: 2 and forwards everything else.
    let throttledAt = 0;
    const proxy = await startProxy(s.url, (req, res) => {
      if (throttledAt === 0) {
        throttledAt = performance.now();
        res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' });
        res.end(JSON.stringify({ requestId: 'proxy-429', errors: ['API request limit exceeded'] }));
        req.resume();
        return true;
      }
      return false;
    });
    try {
      const file = await bodiesFile(12);
      const run = await send([file, '--rps', '5', '--concurrency', '8'], {
        ...basicEnv(proxy.url),
        GONG_BURST: '1',
      });
      expect(run.code).toBe(0);
      expect(run.summary).toMatchObject({ delivered: 12, throttled: 1, calls: 13 });
      const calls = s.calls(0, 1_000);
      expect(calls).toHaveLength(12);
      // Sandbox and proxy share this process's monotonic clock.
      for (const call of calls) expect(call.t - throttledAt).toBeGreaterThanOrEqual(2_000);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('(d) a 401 halts delivery: only spaced probes until the rotated token works, then everything once', async () => {
    const s = await startSandbox({ bearerToken: 'good-token', rps: 0, daily: 0 });
    sandboxes.push(s);
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'revoked-token\n');
    const file = await bodiesFile(30);
    const pending = send(
      [file, '--no-limiter', '--concurrency', '4'],
      { GONG_BASE_URL: s.url, GONG_BEARER_TOKEN_FILE: tokenFile },
      { authProbeIntervalMs: 300 },
    );
    await waitFor(() => (s.stats().byStatus['401'] ?? 0) > 0);
    const unauthorizedAtHalt = s.stats().calls;
    // At most the calls already in flight when the first 401 came back, plus the first probe when
    // a loaded machine polls late (this flaked under load at exactly 4).
    expect(unauthorizedAtHalt).toBeLessThanOrEqual(5);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const during = s.stats();
    // Probes at 300, 600 (doubling) and 1200 ms: one call at a time, never the backlog.
    expect(during.calls - unauthorizedAtHalt).toBeGreaterThanOrEqual(1);
    expect(during.calls).toBeLessThanOrEqual(4 + 3);
    expect(during.accepted).toBe(0);
    expect(during.byStatus['401']).toBe(during.calls);
    // Rotate the way a secret mount does: write a new file and rename it over the old one.
    await writeFile(join(dir, 'token.next'), 'good-token\n');
    await rename(join(dir, 'token.next'), tokenFile);
    const run = await pending;
    expect(run.code).toBe(0);
    expect(run.summary).toMatchObject({ delivered: 30, rejected: 0, invalid: 0 });
    expect(new Set(acceptedIds(s)).size).toBe(30);
    expect(s.stats().byStatus['200']).toBe(30);
    expect(run.stderr).toMatch(/delivery halted/);
    expect(run.stderr).toMatch(/a probe got through/);
    expect(run.stderr).not.toMatch(/good-token|revoked-token/);
  }, 60_000);
});

describe('send: rejects, checkpoint and resume', () => {
  it('writes rejected and invalid lines with reasons and exits 1', async () => {
    const s = await sandbox();
    const path = join(dir, 'mixed.jsonl');
    await writeFile(
      path,
      [
        JSON.stringify(sampleBody('ok-1')),
        '',
        'not json',
        JSON.stringify({ ...sampleBody('bad-1'), eventType: undefined }),
        JSON.stringify(sampleBody('ok-2')),
      ].join('\n'),
    );
    const run = await send([path, '--no-limiter', '--rejects', 'rejects.jsonl'], basicEnv(s.url));
    expect(run.code).toBe(1);
    expect(run.summary).toMatchObject({ lines: 4, delivered: 2, invalid: 2, rejected: 0, calls: 2 });
    const rejects = (await readFile(join(dir, 'rejects.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) => JSON.parse(line) as { line: number; outcome: string; errors: string[]; eventId?: string },
      );
    expect(rejects.map((r) => [r.line, r.outcome])).toEqual(
      expect.arrayContaining([
        [3, 'invalid'],
        [4, 'invalid'],
      ]),
    );
    expect(rejects.find((r) => r.line === 4)?.errors).toEqual([expect.stringMatching(/^eventType: /)]);
    expect(rejects.find((r) => r.line === 4)?.eventId).toBe('evt-bad-1');
  });

  it('sends lines that break only rules Gong does not document, and names the rule when Gong refuses one', async () => {
    const fixture = new URL('../fixtures/gong-bodies.inferred.jsonl', import.meta.url).pathname;
    const lines = (await readFile(fixture, 'utf8')).trim().split('\n').length;
    // A Gong that follows its contract takes them all.
    const spec = await sandbox();
    const accepted = await send(
      [fixture, '--no-limiter', '--checkpoint', 'a.checkpoint'],
      basicEnv(spec.url),
    );
    expect(accepted.code).toBe(0);
    expect(accepted.summary).toMatchObject({ delivered: lines, invalid: 0, flagged: lines, calls: lines });
    expect(spec.stats().accepted).toBe(lines);
    // One that enforces them answers 400; each reject names the rule that predicted it.
    const strict = await sandbox({ strict: true });
    const refused = await send(
      [fixture, '--no-limiter', '--checkpoint', 'b.checkpoint', '--rejects', 'rejects.jsonl'],
      basicEnv(strict.url),
    );
    expect(refused.code).toBe(1);
    expect(refused.summary).toMatchObject({ delivered: 0, rejected: lines, flagged: lines, calls: lines });
    const rejects = (await readFile(join(dir, 'rejects.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { outcome: string; status: number; inferredRules: string[] });
    expect(rejects).toHaveLength(lines);
    for (const reject of rejects) {
      expect(reject).toMatchObject({ outcome: 'rejected', status: 400, inferredRules: [expect.any(String)] });
    }
  });

  it('--resume skips finished lines and a finished run costs no calls the second time', async () => {
    const s = await sandbox();
    const file = await bodiesFile(10);
    await writeCheckpoint(`${file}.checkpoint`, { version: 1, input: file, watermark: 3, done: [5, 7] });
    const first = await send([file, '--no-limiter', '--resume'], basicEnv(s.url));
    expect(first.summary).toMatchObject({ lines: 10, skipped: 5, delivered: 5, calls: 5 });
    expect(acceptedIds(s).sort()).toEqual([
      'evt-send-3',
      'evt-send-5',
      'evt-send-7',
      'evt-send-8',
      'evt-send-9',
    ]);
    expect(await readCheckpoint(`${file}.checkpoint`)).toEqual({
      version: 1,
      input: file,
      watermark: 10,
      done: [],
    });
    const second = await send([file, '--no-limiter', '--resume'], basicEnv(s.url));
    expect(second.summary).toMatchObject({ skipped: 10, delivered: 0, calls: 0 });
  });

  it('an interrupted run resumes without losing or re-sending finished lines', async () => {
    const s = await sandbox({ rps: 0 });
    const file = await bodiesFile(40);
    const controller = new AbortController();
    const pending = send([file, '--rps', '20', '--concurrency', '2'], basicEnv(s.url), {
      signal: controller.signal,
    });
    await waitFor(() => s.stats().accepted >= 10);
    controller.abort();
    const first = await pending;
    expect(first.code).toBe(1);
    expect(first.summary.interrupted).toBe(true);
    const second = await send([file, '--no-limiter', '--resume'], basicEnv(s.url));
    expect(second.summary.skipped).toBe(first.summary.delivered);
    expect(first.summary.delivered + second.summary.delivered + second.summary.duplicates).toBe(40);
    expect(new Set(acceptedIds(s)).size).toBe(40);
  });

  it('a checkpoint of another input is refused', async () => {
    const file = await bodiesFile(2);
    await writeCheckpoint(`${file}.checkpoint`, {
      version: 1,
      input: '/elsewhere.jsonl',
      watermark: 1,
      done: [],
    });
    await expect(send([file, '--resume'], basicEnv('http://127.0.0.1:9'))).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('--events transforms Avro-JSON interaction events before delivery', async () => {
    const s = await sandbox();
    const fixture = new URL('../fixtures/avro-events.valid.jsonl', import.meta.url);
    const run = await send(
      [fixture.pathname, '--events', '--no-limiter', '--checkpoint', 'events.checkpoint'],
      basicEnv(s.url),
    );
    const lines = (await readFile(fixture, 'utf8')).trim().split('\n').length;
    expect(run.code).toBe(0);
    expect(run.summary.delivered).toBe(lines);
    expect(s.stats().accepted).toBe(lines);
  });

  it('invalid events are reported per line without a call', async () => {
    const s = await sandbox();
    const fixture = new URL('../fixtures/avro-events.gong-invalid.jsonl', import.meta.url);
    const run = await send(
      [fixture.pathname, '--events', '--no-limiter', '--checkpoint', 'x.checkpoint'],
      basicEnv(s.url),
    );
    expect(run.code).toBe(1);
    expect(run.summary.invalid).toBeGreaterThan(0);
    expect(run.summary.calls).toBe(run.summary.delivered);
  });
});

describe('send: progress', () => {
  it('writes plain progress lines to stderr when it is not a terminal', async () => {
    const s = await sandbox();
    const file = await bodiesFile(6);
    const run = await send([file, '--rps', '4', '--progress-interval', '100'], {
      ...basicEnv(s.url),
      GONG_BURST: '1',
    });
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('send: '));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^send: \d+\/6 delivered \d+ .* ETA \d+:\d\d/);
    expect(run.stderr).not.toMatch(/\r/);
  });
});

describe('send next to a running bridge, without Redis (issue 14 §4)', () => {
  it('refuses to take a second full quota silently: without REDIS_URL, --share is required', async () => {
    const s = await sandbox();
    const file = await bodiesFile(3);
    const error = await send([file], basicEnv(s.url), { share: null }).catch((e: unknown) => e);
    expect(isBridgeError(error) && error.code).toBe('USAGE');
    const message = (error as Error).message;
    for (const named of ['--share', 'REDIS_URL', '429', 'second full quota'])
      expect(message).toContain(named);
    expect(s.stats().calls).toBe(0);
  });

  it('--share takes that part of the account rate, and warns what running beside a bridge risks', async () => {
    const s = await sandbox();
    const file = await bodiesFile(9);
    const run = await send([file, '--rps', '4'], basicEnv(s.url), { share: '0.5' });
    expect(run.summary).toMatchObject({ delivered: 9, calls: 9 });
    expect(s.stats().peakCallsPerRollingSecond).toBeLessThanOrEqual(2);
    expect(run.stderr).toMatch(
      /warning: no REDIS_URL: this run takes 50% of the account's quota \(2\/s, 5000\/day\)/,
    );
    expect(run.stderr).toContain('Gong answers 429 and the day can be overspent');
  });

  it('--share must lie in (0, 1]', async () => {
    const s = await sandbox();
    const file = await bodiesFile(1);
    for (const bad of ['0', '1.5', 'half']) {
      const error = await send([file], basicEnv(s.url), { share: bad }).catch((e: unknown) => e);
      expect(isBridgeError(error) && error.code).toBe('USAGE');
    }
  });
});

describe('LineProgress', () => {
  it('advances a contiguous watermark over lines that finish out of order', () => {
    const progress = new LineProgress();
    for (const line of [2, 3, 5]) progress.markDone(line);
    expect(progress.toData('f')).toEqual({ version: 1, input: 'f', watermark: 0, done: [2, 3, 5] });
    progress.markDone(1);
    expect(progress.toData('f')).toEqual({ version: 1, input: 'f', watermark: 3, done: [5] });
    progress.markDone(4);
    expect(progress.watermark).toBe(5);
    expect(progress.isDone(5)).toBe(true);
    expect(progress.isDone(6)).toBe(false);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Forwards to `target` unless `intercept` answered the request itself. */
async function startProxy(
  target: string,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (intercept(req, res)) return;
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const answer = await request(`${target}${req.url ?? '/'}`, {
        method: 'POST',
        headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      });
      const text = await answer.body.text();
      res.writeHead(answer.statusCode, { 'content-type': 'application/json' });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
