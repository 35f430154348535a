import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runSend, type SendSummary } from '../../src/cli/commands/send.ts';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { RedisLimiter } from '../../src/delivery/rate-limit/redis-limiter.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { isBridgeError } from '../../src/errors.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { startSandboxProcess } from '../../src/sandbox/child-process.ts';
import { sampleBody } from '../delivery/helpers.ts';
import { captureIo } from '../helpers/cli-io.ts';
import { withRedis } from '../helpers/redis.ts';

/**
 * Issue 14 §4: `send` next to a running service, with Redis. It must join the service's shared
 * quota (the same keys, the same limits), so the two together keep to the account's rate at a
 * strict server; and it must not be able to judge that shared count by limits of its own.
 */

const KEY = 'k';
const SECRET = 's';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Stats {
  readonly accepted: number;
  readonly calls: number;
  readonly byStatus: Record<string, number>;
  readonly peakCallsPerRollingSecond: number;
}

/** The sandbox in its own process: the bridge's event loop cannot move the moment it counts a call. */
async function sandbox(rps: number): Promise<{ url: string; stats(): Promise<Stats> }> {
  const started = await startSandboxProcess([
    '--rps',
    String(rps),
    '--daily-limit',
    '0',
    '--access-key',
    KEY,
    '--access-key-secret',
    SECRET,
  ]);
  cleanups.push(() => started.close());
  // A fresh process hands its first requests to its handler late (compiling); warm it up on calls
  // of our own, then forget them.
  const authorization = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
  for (let i = 0; i < 10; i += 1) {
    await fetch(`${started.url}/v2/digital-interaction`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(sampleBody(`warm-${i}`)),
    }).then((answer) => answer.text());
  }
  await started.json('/_sandbox/reset', 'POST');
  return { url: started.url, stats: () => started.json<Stats>('/_sandbox/stats') };
}

// On the shared development host requests reached the sandbox up to ~100 ms after they left; a
// cap above that keeps this test about sharing, not about the host (docs/benchmarks.md).
const MARGIN_CAP = '250';

async function send(args: string[], env: Record<string, string>, count: number) {
  const dir = await mkdtemp(join(tmpdir(), 'send-shared-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bodies.jsonl');
  const lines = Array.from({ length: count }, (_, n) => JSON.stringify(sampleBody(`send-${n}`)));
  await writeFile(file, `${lines.join('\n')}\n`);
  const cli = captureIo(env, { cwd: dir });
  const code = await runSend([file, ...args, '--json'], cli.io, { clock: systemClock, sleep: systemSleep });
  return { code, summary: JSON.parse(cli.out()) as SendSummary, stderr: cli.err() };
}

/** The service's settings as `send` would see them next to it. */
function sendEnv(s: { url: string }, redisUrl: string, extra: Record<string, string> = {}) {
  return {
    GONG_BASE_URL: s.url,
    GONG_ACCESS_KEY: KEY,
    GONG_ACCESS_KEY_SECRET: SECRET,
    REDIS_URL: redisUrl,
    GONG_RATE_MARGIN_MS: MARGIN_CAP,
    ...extra,
  };
}

describe('send next to a running bridge, with Redis (issue 14 §4)', () => {
  it("joins the service's shared quota: the two together keep to 3 calls a second at a strict server", async () => {
    await withRedis(async (redisUrl) => {
      const s = await sandbox(3);
      const prefix = `shared-${randomUUID()}`;
      // The running service: its own limiter on the same keys, delivering its own events.
      const limiter = new RedisLimiter({
        redisUrl,
        keyPrefix: prefix,
        ratePerSecond: 3,
        dailyLimit: 10_000,
        dailyWindow: 'rolling',
        windowMarginMs: Number(MARGIN_CAP),
        expectedReplicas: 1,
        clock: systemClock,
        sleep: systemSleep,
      });
      const client = createGongClient({
        baseUrl: s.url,
        auth: { kind: 'basic', accessKey: KEY, accessKeySecret: SECRET },
        connectTimeoutMs: 5_000,
        headersTimeoutMs: 5_000,
        bodyTimeoutMs: 5_000,
        maxConnections: 8,
        clock: systemClock,
      });
      const engine = createDeliveryEngine({
        client,
        limiter,
        clock: systemClock,
        sleep: systemSleep,
        maxBodyBytes: 100_000,
      });
      cleanups.push(async () => {
        engine.close();
        await client.close();
        await limiter.close();
      });
      const service = Promise.all(
        Array.from({ length: 12 }, (_, n) => engine.deliver(sampleBody(`service-${n}`))),
      );
      const run = await send([], sendEnv(s, redisUrl, { REDIS_KEY_PREFIX: prefix }), 12);
      await service;
      expect(run.summary).toMatchObject({ delivered: 12, calls: 12 });
      expect(run.stderr).toContain(
        `sharing the account's Gong quota through Redis (keys {${prefix}}:limiter:*)`,
      );
      const stats = await s.stats();
      expect(stats.accepted).toBe(24);
      expect(stats.byStatus['429'] ?? 0).toBe(0);
      expect(stats.peakCallsPerRollingSecond).toBeLessThanOrEqual(3);
    });
  });

  it('refuses --rps and --daily-limit: they would judge the shared count by other limits', async () => {
    await withRedis(async (redisUrl) => {
      const s = await sandbox(3);
      for (const flag of [
        ['--rps', '10'],
        ['--daily-limit', '50000'],
      ]) {
        const error = await send(flag, sendEnv(s, redisUrl), 3).catch((e: unknown) => e);
        expect(isBridgeError(error) && error.code, String(error)).toBe('USAGE');
        expect((error as Error).message).toContain('--share');
      }
      expect((await s.stats()).calls).toBe(0);
    });
  });

  it("warns when no bridge has used its keys lately: a REDIS_KEY_PREFIX other than the service's", async () => {
    await withRedis(async (redisUrl) => {
      const s = await sandbox(0);
      const prefix = `nobody-${randomUUID()}`;
      const run = await send([], sendEnv(s, redisUrl, { REDIS_KEY_PREFIX: prefix }), 2);
      expect(run.summary.delivered).toBe(2);
      expect(run.stderr).toContain(
        `warning: no limiter has used REDIS_KEY_PREFIX=${prefix} in the last two days`,
      );
    });
  });
});
