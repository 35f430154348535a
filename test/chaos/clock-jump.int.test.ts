import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/delivery/limiter-types.ts';
import { systemClock } from '../../src/delivery/system-time.ts';
import type { CallRecord } from '../../src/sandbox/call-log.ts';
import { allCommitted, bridgeEnv, positions, waitFor } from '../helpers/bridge.ts';
import { testKafka } from '../helpers/kafka.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';
import { account } from './harness.ts';
import {
  expectBalancedBooks,
  expectNoSecret,
  prepareScenario,
  runScenario,
  startTracedBridge,
} from './scenario.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The wall clock jumps (NTP step, VM resume, an operator's `date -s`) while the bridge delivers
 * real traffic. The limiter's per-second spacing and both daily windows run on the monotonic
 * clock; the wall clock only places the UTC day boundary and stamps reports. So a jump forward
 * must not hand out a fresh second or a fresh day, and a jump back must not stall or double
 * anything. The jumps are injected through the Clock that buildRunGraph takes (the same object
 * reaches the limiter, the Gong client, the engine and the runtime); its monotonic side is the
 * real one, so the timers and Kafka behave as in production.
 */
class SteppingClock implements Clock {
  // Starts at noon UTC of today, so the real midnight never falls inside a run and the only
  // day changes the bridge sees are the injected ones.
  #offset = Math.floor(systemClock.wallNow() / DAY) * DAY + 12 * HOUR - systemClock.wallNow();
  readonly steps: number[] = [];

  now(): number {
    return systemClock.now();
  }

  wallNow(): number {
    return systemClock.wallNow() + this.#offset;
  }

  step(ms: number): void {
    this.#offset += ms;
    this.steps.push(ms);
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The most calls the sandbox saw in any rolling 1000 ms, on its monotonic timestamps, from the
 * very first call. The first burst opens its connections cold; before calls were counted from
 * when they went on the wire, the next burst could land inside 1000 ms of the first one's arrival
 * (11-12 calls in a rolling second at 10/s, with or without jumps), so the first second is
 * included on purpose.
 */
function maxInRollingSecond(calls: readonly CallRecord[]): number {
  return maxInWindow(calls.map((call) => call.t));
}

describe('chaos: clock jumps', () => {
  const kafka = testKafka();
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  it('wall clock +1 day, +1 hour, -1 hour mid-run: never over the rate, nothing lost', async () => {
    const rate = 10;
    const clock = new SteppingClock();
    let maxRolling = 0;
    await runScenario({
      name: 'clock-jump',
      kafka,
      admin,
      clock,
      // No limit in the sandbox (rps 0 in the scenario defaults): it records the load the bridge
      // offers, which is what a jump could push over the rate.
      env: { GONG_RATE_PER_SECOND: String(rate), GONG_DAILY_WINDOW: 'utc-day' },
      during: async ({ sandbox }) => {
        // Jump while calls are being spaced, not before the first or after the last.
        await waitFor('the first seconds of calls', () => sandbox.stats().calls >= 2 * rate, 30_000, 50);
        for (const step of [DAY, HOUR, -HOUR]) {
          clock.step(step);
          await pause(1_200);
        }
      },
      faults: ({ sandbox }) => {
        maxRolling = maxInRollingSecond(sandbox.calls(0, 100_000));
        return {
          wallSteps: clock.steps.map((ms) => `${ms > 0 ? '+' : ''}${ms / HOUR}h`).join(','),
          rate,
          maxCallsInRollingSecond: maxRolling,
          dailyLimit: 10_000,
          counted: sandbox.stats().counted,
        };
      },
    });
    expect(clock.steps).toEqual([DAY, HOUR, -HOUR]);
    expect(maxRolling).toBeLessThanOrEqual(rate);
    expect(maxRolling).toBeGreaterThan(0);
  }, 90_000);

  it('a spent daily quota stays spent across +1 day and -1 hour jumps; the rest waits, not lost', async () => {
    const dailyLimit = 15;
    const clock = new SteppingClock();
    const scenario = await prepareScenario({ name: 'clock-quota', kafka, admin, events: 40 });
    const { sandbox, topic, dlqTopic, groupId, records, monitor } = scenario;
    try {
      const valid = records.filter((record) => record.kind === 'valid').length;
      expect(valid).toBeGreaterThan(dailyLimit);
      const startedAt = Date.now();
      const env = bridgeEnv({
        KAFKA_TOPICS: topic,
        KAFKA_GROUP_ID: groupId,
        GONG_BASE_URL: sandbox.url,
        GONG_RATE_PER_SECOND: '20',
        GONG_DAILY_LIMIT: String(dailyLimit),
        // utc-day is the window that reads the wall clock (for the day boundary): the one a
        // jump could fool into opening a new day.
        GONG_DAILY_WINDOW: 'utc-day',
      });
      // Logs at trace and scraped metrics, for the no-secret check at the end.
      const output: string[] = [];
      const bridge = await startTracedBridge(env, output, clock);
      try {
        await waitFor('the daily quota spent', () => sandbox.stats().counted >= dailyLimit, 30_000, 50);
        // A day forward: on the wall clock it is tomorrow, but not a second of the day has passed.
        clock.step(DAY);
        await pause(2_000);
        clock.step(-HOUR);
        await pause(2_000);
        expect(sandbox.stats().counted).toBe(dailyLimit);
        output.push(await bridge.scrape());
      } finally {
        await bridge.stop();
      }
      const halted = await positions(admin, groupId, topic);
      const pendingAtStop = halted.reduce((sum, entry) => sum + Number(entry.end - entry.committed), 0);
      expect(pendingAtStop).toBeGreaterThan(0);
      expect(sandbox.stats().counted).toBe(dailyLimit);

      // The next day (a new process, its limit raised for the test: the calls of the first are
      // remembered in KAFKA_QUOTA_TOPIC, on the first bridge's stepped wall clock) picks the
      // waiting records up from the committed offsets: the jump cost time, not events.
      const resumed = await startTracedBridge({ ...env, GONG_DAILY_LIMIT: '10000' }, output, systemClock);
      try {
        await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000, 200);
      } finally {
        await resumed.stop();
      }
      const books = await account({
        scenario: 'clock-jump-quota',
        kafka,
        dlqTopic,
        records,
        sandbox,
        faults: {
          wallSteps: '+24h,-1h',
          dailyLimit,
          callsBeforeResume: dailyLimit,
          pendingAtStop,
        },
        monitor: await monitor.stop(),
        startedAt,
      });
      await expectNoSecret(env, output, kafka, dlqTopic);
      expectBalancedBooks(books);
    } finally {
      await scenario.close();
    }
  }, 90_000);
});
