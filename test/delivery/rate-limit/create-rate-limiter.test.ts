import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.ts';
import { createRateLimiter } from '../../../src/delivery/rate-limit/create-rate-limiter.ts';
import { DisabledLimiter } from '../../../src/delivery/rate-limit/disabled-limiter.ts';
import { LocalLimiter } from '../../../src/delivery/rate-limit/local-limiter.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

function logger() {
  const lines: { level: string; message: string; fields: object }[] = [];
  return {
    lines,
    info: (fields: object, message: string) => lines.push({ level: 'info', message, fields }),
    warn: (fields: object, message: string) => lines.push({ level: 'warn', message, fields }),
  };
}

describe('createRateLimiter', () => {
  it('builds no limiter at all when GONG_LIMITER_DISABLED, and says so', async () => {
    const clock = new ManualClock();
    const log = logger();
    const limiter = createRateLimiter(loadConfig({ GONG_LIMITER_DISABLED: 'true' }), {
      clock,
      sleep: clock.sleep,
      logger: log,
    });
    expect(limiter).toBeInstanceOf(DisabledLimiter);
    for (let i = 0; i < 1_000; i += 1) await limiter.acquire();
    expect(limiter.snapshot().mode).toBe('disabled');
    expect(log.lines.map((l) => l.level)).toEqual(['warn']);
    await expect(limiter.acquire(AbortSignal.abort(new Error('stop')))).rejects.toThrow('stop');
  });

  it('builds a local limiter at the configured rate without REDIS_URL', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter(loadConfig({ GONG_RATE_PER_SECOND: '3', GONG_DAILY_LIMIT: '10000' }), {
      clock,
      sleep: clock.sleep,
    });
    expect(limiter).toBeInstanceOf(LocalLimiter);
    expect(limiter.snapshot()).toMatchObject({
      mode: 'local',
      ratePerSecond: 3,
      dailyLimit: 10_000,
      tokensAvailable: 3,
    });
  });

  it('gives each replica its share of rate and day when replicas cannot share Redis', () => {
    const clock = new ManualClock();
    const log = logger();
    const limiter = createRateLimiter(
      loadConfig({ GONG_RATE_PER_SECOND: '3', GONG_DAILY_LIMIT: '10000', GONG_EXPECTED_REPLICAS: '3' }),
      { clock, sleep: clock.sleep, logger: log },
    );
    expect(limiter.snapshot()).toMatchObject({ ratePerSecond: 1, dailyLimit: 3_333, tokensAvailable: 1 });
    expect(log.lines[0]?.level).toBe('warn');
  });

  it('honours GONG_BURST and GONG_DAILY_WINDOW', async () => {
    const clock = new ManualClock({ mono: 0 });
    const limiter = createRateLimiter(
      loadConfig({ GONG_RATE_PER_SECOND: '4', GONG_BURST: '1', GONG_DAILY_WINDOW: 'utc-day' }),
      { clock, sleep: clock.sleep },
    );
    const starts: number[] = [];
    for (let i = 0; i < 3; i += 1) void limiter.acquire().then(() => starts.push(clock.now()));
    await clock.advance(1_000);
    expect(starts).toEqual([0, 250, 500]);
  });
});

describe('createRateLimiter for a command with a share of the account (issue 14 §4)', () => {
  it("takes that part of the rate and the day, instead of the replicas' split", () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter(
      loadConfig({ GONG_RATE_PER_SECOND: '4', GONG_DAILY_LIMIT: '10000', GONG_EXPECTED_REPLICAS: '3' }),
      { clock, sleep: clock.sleep, share: 0.5 },
    );
    expect(limiter.snapshot()).toMatchObject({ ratePerSecond: 2, dailyLimit: 5_000, tokensAvailable: 2 });
  });
});
