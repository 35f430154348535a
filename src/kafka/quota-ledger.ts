import { createHash, randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Settings } from '../config/settings.ts';
import type { Clock, ObservableRateLimiter, Sleep, SpentMinute } from '../delivery/limiter-types.ts';
import { BridgeError } from '../errors.ts';

/**
 * The daily Gong budget, kept across restarts without Redis (issue 14 §3).
 *
 * Without Redis the limiter counts the day in memory, and a restart used to start a fresh budget:
 * a crash loop or a few deploys in one day could spend 10,000 calls several times over. Kafka is
 * already there, so each process writes what it spends to a small compacted topic, and a starting
 * process reads back what the account spent in the last 24 hours before it makes its first call.
 *
 * Records: key `<account>/<process>/<hour>`, value JSON `{v, account, process, hour, minutes:
 * [[minuteStart, count], ...], writtenAt}`: one record per process and wall-clock hour, holding
 * that hour's calls per minute. Compaction keeps the latest per key; `cleanup.policy=compact,delete`
 * with 26 h retention drops hours nobody needs any more. A record is a few hundred bytes; a process
 * rewrites its current hour at most once per interval, and only when it changed.
 *
 * The account is a hash of the Gong base URL and access key (never the key itself), so two bridges
 * for one account share it and nobody reading the topic learns a credential.
 *
 * Bound: the calls a process made since its last write are lost when it crashes, at most
 * rate x interval (3 calls at 3/s and the default 1 s) per crash.
 */

export const QUOTA_TOPIC_CONFIG: readonly { name: string; value: string }[] = [
  { name: 'cleanup.policy', value: 'compact,delete' },
  // A rolling day needs the last 24 h; two hours more cover the hour records straddling it.
  { name: 'retention.ms', value: String(26 * 3_600_000) },
  { name: 'segment.ms', value: String(3_600_000) },
];

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The ledger's name for a Gong account: stable across restarts and replicas, no secret in it. */
export function accountKey(baseUrl: string, accessKey: string | undefined): string {
  const origin = new URL(baseUrl).origin;
  return createHash('sha256')
    .update(`${origin}\n${accessKey ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}

export interface LedgerRecord {
  readonly v: 1;
  readonly account: string;
  readonly process: string;
  readonly hour: number;
  readonly minutes: readonly (readonly [number, number])[];
  readonly writtenAt: number;
}

/** Parses one value from the topic; anything unreadable is skipped (another version, or noise). */
export function parseLedgerRecord(value: Buffer | null): LedgerRecord | null {
  if (value === null) return null;
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<LedgerRecord>;
    if (parsed.v !== 1 || typeof parsed.account !== 'string' || !Array.isArray(parsed.minutes)) return null;
    return parsed as LedgerRecord;
  } catch {
    return null;
  }
}

/**
 * What the account spent per minute in the rolling day before `wallNow`, summed over every
 * process's latest records. Minutes that ended more than 24 h ago are left out.
 */
export function spentByAccount(
  records: Iterable<LedgerRecord>,
  account: string,
  wallNow: number,
): SpentMinute[] {
  const perMinute = new Map<number, number>();
  for (const record of records) {
    if (record.account !== account) continue;
    for (const [minuteStart, count] of record.minutes) {
      if (!(count > 0) || minuteStart + MINUTE_MS + DAY_MS <= wallNow) continue;
      perMinute.set(minuteStart, (perMinute.get(minuteStart) ?? 0) + count);
    }
  }
  return [...perMinute.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([minuteStart, count]) => ({ minuteStart, count }));
}

/**
 * This process's part of what the account spent: `share` of it (1 for a single replica; 1/n for
 * one of n replicas without Redis, which cannot tell a running peer from a dead predecessor and so
 * assume the spend was spread as evenly as their shares are; F for a command run with --share F).
 * Rounded up in total, never per minute, so a long day is not over-charged by rounding.
 */
export function shareOf(spent: readonly SpentMinute[], share: number): SpentMinute[] {
  if (share >= 1) return [...spent];
  const total = spent.reduce((sum, minute) => sum + minute.count, 0);
  let left = Math.ceil(total * share);
  const scaled: SpentMinute[] = [];
  // The most recent minutes first: they stay charged the longest, which errs on the safe side.
  for (let i = spent.length - 1; i >= 0 && left > 0; i -= 1) {
    const count = Math.min(left, Math.ceil(spent[i]!.count * share));
    scaled.unshift({ minuteStart: spent[i]!.minuteStart, count });
    left -= count;
  }
  return scaled;
}

/** This process's own calls per wall-clock minute, and which hours changed since the last write. */
export class SpendTally {
  readonly #minutes = new Map<number, number>();
  readonly #dirtyHours = new Set<number>();

  add(wallMs: number, delta: number): void {
    const minute = Math.floor(wallMs / MINUTE_MS) * MINUTE_MS;
    const count = Math.max(0, (this.#minutes.get(minute) ?? 0) + delta);
    this.#minutes.set(minute, count);
    this.#dirtyHours.add(Math.floor(minute / HOUR_MS));
  }

  get dirty(): boolean {
    return this.#dirtyHours.size > 0;
  }

  /** The records to write now (the changed hours), and forgets minutes older than a day. */
  takeChanged(account: string, process: string, wallNow: number): LedgerRecord[] {
    for (const minute of this.#minutes.keys()) {
      if (minute + MINUTE_MS + DAY_MS <= wallNow) this.#minutes.delete(minute);
    }
    const records = [...this.#dirtyHours].map((hour) => {
      const minutes = [...this.#minutes.entries()]
        .filter(([minute]) => Math.floor(minute / HOUR_MS) === hour)
        .sort((a, b) => a[0] - b[0]);
      return { v: 1 as const, account, process, hour, minutes, writtenAt: wallNow };
    });
    this.#dirtyHours.clear();
    return records;
  }

  /** A write failed: these hours must be written again. */
  markDirty(records: readonly LedgerRecord[]): void {
    for (const record of records) this.#dirtyHours.add(record.hour);
  }
}

export interface LedgerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface QuotaLedgerOptions {
  /** For the admin and the one-off consumer that reads the topic at start-up. */
  readonly kafka: Pick<Kafka, 'admin' | 'consumer'>;
  /** A connected producer (run shares the dead-letter producer). */
  readonly producer: Pick<Producer, 'send'>;
  readonly topic: string;
  readonly account: string;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** How often a changed spend is written; the most a crash can lose (GONG_DAILY_LEDGER_INTERVAL_MS). */
  readonly intervalMs: number;
  /** How long reading the topic at start-up may take before start-up fails. Default 60 s. */
  readonly loadTimeoutMs?: number | undefined;
  /**
   * How long the last write at shutdown may take (kafkajs retries a down broker for up to a
   * minute); past it shutdown goes on and the calls since the last write are not recorded.
   * Default 5 s.
   */
  readonly closeTimeoutMs?: number | undefined;
  readonly logger?: LedgerLogger | undefined;
  readonly processId?: string | undefined;
}

/** Keeps one process's daily spend in a compacted Kafka topic and reads the account's back. */
export class QuotaLedger {
  readonly #options: QuotaLedgerOptions;
  readonly #process: string;
  readonly #tally = new SpendTally();
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #writeFailing = false;
  #unsubscribe: (() => void)[] = [];

  constructor(options: QuotaLedgerOptions) {
    this.#options = options;
    this.#process = options.processId ?? randomUUID();
  }

  /** Creates the topic when it is missing (compacted, 26 h retention, one partition). */
  async ensureTopic(): Promise<void> {
    const admin = this.#options.kafka.admin();
    try {
      await admin.connect();
      await ensureQuotaTopic(admin, this.#options.topic);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** What the account spent in the rolling day before now, per minute, by every process. */
  async load(): Promise<SpentMinute[]> {
    const { kafka, topic, account, clock, sleep } = this.#options;
    const records = await readLatestRecords(kafka, topic, sleep, this.#options.loadTimeoutMs ?? 60_000);
    return spentByAccount(records.values(), account, clock.wallNow());
  }

  /**
   * Before the first call: creates the topic if needed, charges `limiter` with `share` of what the
   * account spent in the last 24 hours, and from then on records what it spends. Returns the calls
   * charged. Fails (QUOTA_LEDGER_UNAVAILABLE) rather than start with a budget it cannot vouch for.
   */
  async attach(limiter: ObservableRateLimiter, share: number): Promise<number> {
    await this.ensureTopic();
    const spent = shareOf(await this.load(), share);
    const restored = limiter.restoreSpent?.(spent) ?? 0;
    this.#options.logger?.info(
      { topic: this.#options.topic, restored, share },
      restored > 0
        ? 'daily budget charged with the calls made for this account in the last 24 h'
        : 'no calls made for this account in the last 24 h',
    );
    this.track(limiter);
    return restored;
  }

  /** Counts the limiter's grants and refunds, and writes them every interval until `close`. */
  track(limiter: Pick<ObservableRateLimiter, 'on'>): void {
    const { clock } = this.#options;
    this.#unsubscribe.push(
      limiter.on('acquired', () => this.#tally.add(clock.wallNow(), 1)),
      limiter.on('refunded', (event) => this.#tally.add(event.grantedWallAt, -1)),
    );
    this.#loop ??= this.#writeLoop();
  }

  /** Writes what changed since the last write. Resolves false when Kafka refused it (kept for later). */
  async flush(): Promise<boolean> {
    if (!this.#tally.dirty) return true;
    const { producer, topic, account, clock, logger } = this.#options;
    const records = this.#tally.takeChanged(account, this.#process, clock.wallNow());
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: records.map((record) => ({
          key: `${account}/${this.#process}/${record.hour}`,
          value: JSON.stringify(record),
        })),
      });
      if (this.#writeFailing) {
        this.#writeFailing = false;
        logger?.info({ topic }, 'daily spend written to Kafka again');
      }
      return true;
    } catch (error) {
      this.#tally.markDirty(records);
      if (!this.#writeFailing) {
        this.#writeFailing = true;
        logger?.warn(
          { topic, err: error instanceof Error ? error.message : String(error) },
          'cannot write the daily spend to Kafka; retrying every interval (a crash now would forget the calls since the last write)',
        );
      }
      return false;
    }
  }

  /** Stops the periodic writes and writes what is left, for at most `closeTimeoutMs`. */
  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#stopping.abort();
    await this.#loop;
    const { sleep, topic, logger } = this.#options;
    const timer = new AbortController();
    const timeoutMs = this.#options.closeTimeoutMs ?? 5_000;
    const written = await Promise.race([
      this.flush(),
      sleep(timeoutMs, timer.signal).then(
        () => false,
        () => true,
      ),
    ]);
    timer.abort();
    if (!written) {
      logger?.warn(
        { topic, timeoutMs },
        'daily spend not written at shutdown: the calls since the last write are not recorded',
      );
    }
  }

  async #writeLoop(): Promise<void> {
    const { sleep, intervalMs } = this.#options;
    // Ends with close(); a failed write is kept and retried on the next round.
    while (!this.#stopping.signal.aborted) {
      try {
        await sleep(intervalMs, this.#stopping.signal);
      } catch {
        return;
      }
      await this.flush();
    }
  }
}

/**
 * The ledger, when the limiter keeps the day in this process (no REDIS_URL, limiter on): without
 * it every restart would start a fresh daily budget. Redis keeps its own count.
 */
export function ledgerFromConfig(
  config: Pick<
    Settings,
    | 'REDIS_URL'
    | 'GONG_LIMITER_DISABLED'
    | 'KAFKA_QUOTA_TOPIC'
    | 'GONG_BASE_URL'
    | 'GONG_ACCESS_KEY'
    | 'GONG_DAILY_LEDGER_INTERVAL_MS'
  >,
  deps: Pick<QuotaLedgerOptions, 'kafka' | 'producer' | 'clock' | 'sleep' | 'logger'>,
): QuotaLedger | undefined {
  if (config.REDIS_URL !== undefined || config.GONG_LIMITER_DISABLED) return undefined;
  return new QuotaLedger({
    ...deps,
    topic: config.KAFKA_QUOTA_TOPIC,
    account: accountKey(config.GONG_BASE_URL, config.GONG_ACCESS_KEY),
    intervalMs: config.GONG_DAILY_LEDGER_INTERVAL_MS,
  });
}

export async function ensureQuotaTopic(admin: Pick<Admin, 'listTopics' | 'createTopics'>, topic: string) {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  try {
    return await admin.createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [...QUOTA_TOPIC_CONFIG] }],
      waitForLeaders: true,
    });
  } catch (error) {
    // Another process may have created it between our list and create.
    if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return false;
    throw new BridgeError('QUOTA_LEDGER_UNAVAILABLE', `cannot create the daily spend topic ${topic}`, {
      cause: error,
      context: { topic },
    });
  }
}

/**
 * Reads the topic from the start to the end it had when we began, keeping the latest value per
 * key (a compacted topic may still hold older ones until the cleaner runs).
 */
async function readLatestRecords(
  kafka: Pick<Kafka, 'admin' | 'consumer'>,
  topic: string,
  sleep: Sleep,
  timeoutMs: number,
): Promise<Map<string, LedgerRecord>> {
  const admin = kafka.admin();
  let ends: Map<number, bigint>;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(
      offsets
        .filter((partition) => BigInt(partition.high) > BigInt(partition.low))
        .map((partition) => [partition.partition, BigInt(partition.high)]),
    );
  } catch (error) {
    throw unavailable(topic, 'cannot read its offsets', error);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const latest = new Map<string, LedgerRecord>();
  if (ends.size === 0) return latest;
  // A group of its own, never committed: every start reads the whole (small) topic.
  const consumer: Consumer = kafka.consumer({
    groupId: `gong-bridge-quota-${randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  const timer = new AbortController();
  try {
    const read = new Promise<void>((resolve, reject) => {
      const run = async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined) return;
            const key = message.key?.toString('utf8');
            if (key !== undefined) {
              const record = parseLedgerRecord(message.value);
              if (record === null) latest.delete(key);
              else latest.set(key, record);
            }
            if (BigInt(message.offset) + 1n >= end) {
              ends.delete(partition);
              if (ends.size === 0) resolve();
            }
          },
        });
      };
      run().catch((error: unknown) => reject(unavailable(topic, 'cannot consume it', error)));
    });
    // Ends when the topic is read to its end, or after the timeout: start-up then fails loudly.
    const timedOut = sleep(timeoutMs, timer.signal).then(
      () => Promise.reject(unavailable(topic, `not read to its end within ${timeoutMs} ms`)),
      () => undefined,
    );
    await Promise.race([read, timedOut]);
  } finally {
    timer.abort();
    await consumer.disconnect().catch(() => {});
  }
  return latest;
}

function unavailable(topic: string, what: string, cause?: unknown): BridgeError {
  return new BridgeError('QUOTA_LEDGER_UNAVAILABLE', `daily spend topic ${topic}: ${what}`, {
    cause,
    context: { topic },
  });
}
