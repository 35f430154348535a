import { logLevel, type Producer } from 'kafkajs';
import type { Settings } from '../config/settings.ts';
import type { Clock, ObservableRateLimiter, Sleep } from '../delivery/limiter-types.ts';
import { createRateLimiter } from '../delivery/rate-limit/index.ts';
import { RedisLimiter } from '../delivery/rate-limit/redis-limiter.ts';
import { BridgeError } from '../errors.ts';
import { createNonIdempotentProducer } from '../kafka/batched-producer.ts';
import { kafkaClientConfig } from '../kafka/connection.ts';
import { kafkaClient } from '../kafka/kafka-client.ts';
import { ledgerFromConfig, type QuotaLedger } from '../kafka/quota-ledger.ts';
import type { CliIo } from './command.ts';

/**
 * The quota of a command that calls Gong next to a running service (`send`, `replay-dlq`),
 * issue 14 §4. Gong's limits are the account's, whoever calls:
 * - with REDIS_URL the command joins the service's shared quota (the same keys, REDIS_KEY_PREFIX,
 *   and the same limits), taking at most `--share` of it (default all: it competes call by call);
 * - without, it cannot see the service's calls, so it must be told which part it may take
 *   (`--share`, required), and it says what that risks. The day's spend goes to KAFKA_QUOTA_TOPIC
 *   as the service's does, so a bridge started later today counts it.
 */

export const quotaShareOption = { share: { type: 'string' } } as const;

/** The --share line of a command's help, its description starting at `column`. */
export function quotaShareHelp(column: number): string {
  const lines = [
    "The part (0 < F <= 1) of the account's Gong quota (rate and day) this",
    "run may take. With REDIS_URL it joins the service's shared quota, the",
    'same keys (REDIS_KEY_PREFIX) and limits, and takes at most F of it',
    "(default 1). Without REDIS_URL it cannot see a running bridge's calls,",
    'so F is required: 1 when no bridge runs for this account, otherwise',
    "what the bridge leaves (lower the bridge's GONG_RATE_PER_SECOND and",
    'GONG_DAILY_LIMIT by as much).',
  ];
  const flag = '  --share F'.padEnd(column);
  return lines.map((line, i) => (i === 0 ? flag : ' '.repeat(column)) + line).join('\n');
}

export interface CommandQuota {
  readonly limiter: ObservableRateLimiter;
  close(): Promise<void>;
}

export interface CommandQuotaOptions {
  readonly command: string;
  readonly config: Settings;
  /** The --share flag as given. */
  readonly share: string | undefined;
  /** --rps or --daily-limit was given: with Redis they would judge the shared count by other limits. */
  readonly limitsOverridden?: boolean | undefined;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly io: Pick<CliIo, 'stderr'>;
}

/**
 * Checks the flags against the configuration before anything is read or sent: returns the share
 * to use, or undefined when the limiter is off.
 */
export function resolveShare(
  options: Omit<CommandQuotaOptions, 'clock' | 'sleep' | 'io'>,
): number | undefined {
  const { command, config } = options;
  if (config.GONG_LIMITER_DISABLED) return undefined;
  const given = options.share === undefined ? undefined : Number(options.share);
  if (given !== undefined && !(Number.isFinite(given) && given > 0 && given <= 1)) {
    throw new BridgeError(
      'USAGE',
      `--share must be a number in (0, 1], got ${JSON.stringify(options.share)}`,
    );
  }
  if (config.REDIS_URL !== undefined) {
    if (options.limitsOverridden === true) {
      throw new BridgeError(
        'USAGE',
        `${command}: with REDIS_URL this run joins the account's shared quota, counted against ` +
          'GONG_RATE_PER_SECOND and GONG_DAILY_LIMIT as the service has them; --rps and --daily-limit ' +
          'would judge that shared count by other limits (a higher one lets the account over its ' +
          'limit). Use --share F to take less of it.',
      );
    }
    return given ?? 1;
  }
  if (given === undefined) {
    throw new BridgeError(
      'USAGE',
      `${command}: no REDIS_URL, so this run cannot see the calls of a gong-bridge running for the ` +
        'same Gong account, and would take a second full quota next to it (Gong answers 429 past ' +
        'the rate, and the day can be overspent). Pass --share F: 1 when no bridge runs for this ' +
        "account, otherwise the part the bridge leaves. Or set REDIS_URL to join the service's shared quota.",
    );
  }
  return given;
}

/** Builds the command's limiter (and, without Redis, its daily ledger) for the share resolved above. */
export async function openCommandQuota(options: CommandQuotaOptions): Promise<CommandQuota> {
  const { command, config, clock, sleep, io } = options;
  const share = resolveShare(options);
  const say = (message: string) => io.stderr.write(`gong-bridge ${command}: ${message}\n`);
  const logger = {
    info: () => undefined,
    warn: (fields: object, message: string) => say(`limiter: ${message} ${JSON.stringify(fields)}`),
  };
  const limiter = createRateLimiter(config, { clock, sleep, logger, share });
  if (share === undefined) return { limiter, close: () => limiter.close() };
  const percent = `${Math.round(share * 1000) / 10}%`;

  if (limiter instanceof RedisLimiter) {
    say(
      `sharing the account's Gong quota through Redis (keys ${limiter.sharedKeys[0]?.replace(/:log$/, ':*')}), ` +
        `taking at most ${percent} of ${config.GONG_RATE_PER_SECOND}/s and ${config.GONG_DAILY_LIMIT}/day`,
    );
    if ((await limiter.sharedStateExists()) === false) {
      say(
        `warning: no limiter has used REDIS_KEY_PREFIX=${config.REDIS_KEY_PREFIX} in the last two days. ` +
          "If a gong-bridge is running for this account, its prefix differs and this run does not share its quota: set the service's REDIS_KEY_PREFIX.",
      );
    }
    return { limiter, close: () => limiter.close() };
  }

  say(
    `warning: no REDIS_URL: this run takes ${percent} of the account's quota ` +
      `(${config.GONG_RATE_PER_SECOND * share}/s, ${Math.floor(config.GONG_DAILY_LIMIT * share)}/day) and cannot see ` +
      'the calls of a gong-bridge running for the same Gong account. If one runs with its full quota, ' +
      "together they exceed Gong's limits: Gong answers 429 and the day can be overspent. Lower the " +
      "bridge's GONG_RATE_PER_SECOND and GONG_DAILY_LIMIT by this share, or set REDIS_URL.",
  );
  const ledger = await openLedger(config, share, limiter, clock, sleep, say);
  return {
    limiter,
    async close() {
      await ledger?.close();
      await limiter.close();
    },
  };
}

/**
 * Without Redis, the run charges its share of what the account spent today and records its own
 * calls in KAFKA_QUOTA_TOPIC, as the service does. Without KAFKA_BROKERS there is nowhere to.
 */
async function openLedger(
  config: Settings,
  share: number,
  limiter: ObservableRateLimiter,
  clock: Clock,
  sleep: Sleep,
  say: (message: string) => void,
): Promise<{ close(): Promise<void> } | undefined> {
  if (config.KAFKA_BROKERS === undefined) {
    say(
      'no KAFKA_BROKERS: the day this run spends is not recorded in KAFKA_QUOTA_TOPIC, so a bridge ' +
        'started later today will not count it, and this run does not count what the bridge spent.',
    );
    return undefined;
  }
  const kafka = kafkaClient({ ...kafkaClientConfig(config), logLevel: logLevel.NOTHING });
  // The same producer as run's ledger writes: not idempotent (batched-producer.ts says why).
  const producer: Producer = createNonIdempotentProducer(kafka);
  let ledger: QuotaLedger | undefined;
  try {
    await producer.connect();
    ledger = ledgerFromConfig(config, {
      kafka,
      producer,
      clock,
      sleep,
      logger: { info: () => undefined, warn: (_fields, message) => say(message) },
    });
    const charged = (await ledger?.attach(limiter, share)) ?? 0;
    if (charged > 0)
      say(`charged ${charged} calls: this run's part of what the account spent in the last 24 h`);
  } catch (error) {
    await producer.disconnect().catch(() => {});
    throw error;
  }
  return {
    async close() {
      await ledger?.close();
      await producer.disconnect().catch(() => {});
    },
  };
}
