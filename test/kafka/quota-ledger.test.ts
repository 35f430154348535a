import { describe, expect, it } from 'vitest';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import {
  accountKey,
  parseLedgerRecord,
  QuotaLedger,
  shareOf,
  spentByAccount,
  SpendTally,
  type LedgerRecord,
} from '../../src/kafka/quota-ledger.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const minute = (ago: number) => Math.floor((NOW - ago) / 60_000) * 60_000;

function record(account: string, process: string, minutes: [number, number][]): LedgerRecord {
  return { v: 1, account, process, hour: Math.floor(minutes[0]![0] / 3_600_000), minutes, writtenAt: NOW };
}

describe('quota ledger records', () => {
  it('names an account by its base URL and access key without containing either', () => {
    const key = accountKey('https://us-1.api.gong.io/some/path', 'AKEY');
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(key).toBe(accountKey('https://us-1.api.gong.io', 'AKEY'));
    expect(key).not.toBe(accountKey('https://us-2.api.gong.io', 'AKEY'));
    expect(key).not.toBe(accountKey('https://us-1.api.gong.io', 'OTHER'));
  });

  it('sums every process of the account per minute, leaving out other accounts and minutes past a day', () => {
    const spent = spentByAccount(
      [
        record('a', 'p1', [
          [minute(120_000), 3],
          [minute(60_000), 1],
        ]),
        record('a', 'p2', [[minute(60_000), 2]]),
        record('b', 'p3', [[minute(60_000), 50]]),
        record('a', 'p0', [[minute(86_400_000 + 120_000), 9]]),
      ],
      'a',
      NOW,
    );
    expect(spent).toEqual([
      { minuteStart: minute(120_000), count: 3 },
      { minuteStart: minute(60_000), count: 3 },
    ]);
  });

  it('charges a share of the spend, rounded up in total and taken from the latest minutes first', () => {
    const spent = [
      { minuteStart: minute(180_000), count: 3 },
      { minuteStart: minute(120_000), count: 3 },
      { minuteStart: minute(60_000), count: 1 },
    ];
    expect(shareOf(spent, 1)).toEqual(spent);
    // A third of 7 is 2.33: 3 calls, taken from the newest minutes first.
    expect(shareOf(spent, 1 / 3)).toEqual([
      { minuteStart: minute(180_000), count: 1 },
      { minuteStart: minute(120_000), count: 1 },
      { minuteStart: minute(60_000), count: 1 },
    ]);
    expect(shareOf(spent, 0.1)).toEqual([{ minuteStart: minute(60_000), count: 1 }]);
  });

  it('skips values it cannot read, and reads a tombstone as nothing', () => {
    expect(parseLedgerRecord(null)).toBeNull();
    expect(parseLedgerRecord(Buffer.from('not json'))).toBeNull();
    expect(parseLedgerRecord(Buffer.from('{"v":2,"account":"a","minutes":[]}'))).toBeNull();
    const valid = record('a', 'p', [[minute(0), 1]]);
    expect(parseLedgerRecord(Buffer.from(JSON.stringify(valid)))).toEqual(valid);
  });
});

describe('SpendTally', () => {
  it('writes only the hours that changed, and a refund counts against the minute of its grant', () => {
    const tally = new SpendTally();
    const hourStart = Date.UTC(2026, 10, 25, 11, 0, 0);
    tally.add(hourStart - 1_000, 1);
    tally.add(hourStart + 5_000, 1);
    tally.add(hourStart + 6_000, 1);
    tally.add(hourStart + 5_500, -1);
    const first = tally.takeChanged('a', 'p', hourStart + 10_000);
    expect(first.map((r) => [r.hour, r.minutes])).toEqual([
      [Math.floor((hourStart - 1_000) / 3_600_000), [[hourStart - 60_000, 1]]],
      [hourStart / 3_600_000, [[hourStart, 1]]],
    ]);
    expect(tally.dirty).toBe(false);
    tally.add(hourStart + 61_000, 1);
    const second = tally.takeChanged('a', 'p', hourStart + 70_000);
    expect(second.map((r) => r.minutes)).toEqual([
      [
        [hourStart, 1],
        [hourStart + 60_000, 1],
      ],
    ]);
    // A failed write makes its hours due again.
    tally.markDirty(second);
    expect(tally.dirty).toBe(true);
  });

  it('never counts below zero and forgets minutes older than a day', () => {
    const tally = new SpendTally();
    tally.add(NOW - 86_400_000 - 120_000, 1);
    tally.add(NOW, -1);
    const records = tally.takeChanged('a', 'p', NOW);
    expect(records.flatMap((r) => r.minutes)).toEqual([[minute(0), 0]]);
  });
});

describe('QuotaLedger writes', () => {
  function setUp(send: (batch: { messages: { key: string; value: string }[] }) => Promise<unknown>) {
    const clock = new ManualClock({ mono: 0, wall: NOW });
    const warnings: string[] = [];
    const ledger = new QuotaLedger({
      kafka: {} as never,
      producer: { send: send as never },
      topic: 'quota',
      account: 'acct',
      clock,
      sleep: clock.sleep,
      intervalMs: 1_000,
      processId: 'p1',
      logger: { info: () => undefined, warn: (_fields, message) => warnings.push(message) },
    });
    const limiter = new LocalLimiter({
      ratePerSecond: 10,
      dailyLimit: 100,
      dailyWindow: 'rolling',
      clock,
      sleep: clock.sleep,
    });
    ledger.track(limiter);
    return { clock, ledger, limiter, warnings };
  }

  it('writes the grants less the refunds of the changed hour once per interval, and on close', async () => {
    const written: { key: string; value: string }[] = [];
    const { clock, ledger, limiter } = setUp(async (batch) => written.push(...batch.messages));
    const slots = [await limiter.acquire(), await limiter.acquire(), await limiter.acquire()];
    slots[0]!.release();
    slots[1]!.onWire();
    slots[1]!.release();
    await clock.advance(1_000);
    expect(written.map((m) => m.key)).toEqual([`acct/p1/${Math.floor(NOW / 3_600_000)}`]);
    expect((JSON.parse(written[0]!.value) as LedgerRecord).minutes).toEqual([[minute(0), 2]]);
    // Nothing changed: nothing written.
    await clock.advance(1_000);
    expect(written).toHaveLength(1);
    await limiter.acquire();
    await ledger.close();
    expect((JSON.parse(written.at(-1)!.value) as LedgerRecord).minutes).toEqual([[minute(0), 3]]);
    await limiter.close();
  });

  it('does not hold shutdown when Kafka does not answer the last write, and says what is lost', async () => {
    const { clock, ledger, limiter, warnings } = setUp(() => new Promise(() => undefined));
    await limiter.acquire();
    const closed = ledger.close();
    await clock.advance(5_000);
    await closed;
    expect(warnings).toEqual([
      'daily spend not written at shutdown: the calls since the last write are not recorded',
    ]);
    await limiter.close();
  });
});
