import type { Settings } from '../../config/settings.ts';
import type { Clock, ObservableRateLimiter, Sleep } from '../limiter-types.ts';
import { DisabledLimiter } from './disabled-limiter.ts';
import { LocalLimiter } from './local-limiter.ts';
import { RedisLimiter, type LimiterLogger } from './redis-limiter.ts';

export type RateLimiterConfig = Pick<
  Settings,
  | 'GONG_RATE_PER_SECOND'
  | 'GONG_BURST'
  | 'GONG_DAILY_LIMIT'
  | 'GONG_DAILY_WINDOW'
  | 'GONG_EXPECTED_REPLICAS'
  | 'GONG_LIMITER_DISABLED'
  | 'REDIS_URL'
  | 'REDIS_KEY_PREFIX'
  | 'GONG_RATE_MARGIN_MS'
>;

export interface RateLimiterDeps {
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly logger?: LimiterLogger | undefined;
  /** Extra ms on the 1 s window for network jitter; default GONG_RATE_MARGIN_MS. */
  readonly windowMarginMs?: number | undefined;
  /** Redis timings (see RedisLimiterOptions); defaults suit production. */
  readonly redis?:
    { connectTimeoutMs?: number; commandTimeoutMs?: number; probeIntervalMs?: number } | undefined;
  /**
   * The part of the account's quota this limiter may use, for a command run next to the service
   * (`--share`): its rate and daily limit are that part of GONG_RATE_PER_SECOND and
   * GONG_DAILY_LIMIT. With Redis it still counts every call of the account (it yields once the
   * account has made that many); without, it counts only its own. Unset: the service's own share,
   * the whole account in Redis or 1 / GONG_EXPECTED_REPLICAS of it locally.
   */
  readonly share?: number | undefined;
}

/**
 * Picks the limiter the configuration asks for:
 * - GONG_LIMITER_DISABLED: none at all (benchmarks only; logged as a warning);
 * - REDIS_URL set: cluster-wide through Redis, falling back locally while Redis is down;
 * - otherwise local, at rate / GONG_EXPECTED_REPLICAS and daily / replicas, since replicas that
 *   cannot talk to each other can only share the account's quota by each taking a fixed part.
 */
export function createRateLimiter(config: RateLimiterConfig, deps: RateLimiterDeps): ObservableRateLimiter {
  if (config.GONG_LIMITER_DISABLED) {
    deps.logger?.warn({}, 'GONG_LIMITER_DISABLED: no rate limit; use against an unthrottled sandbox only');
    return new DisabledLimiter();
  }
  const replicas = Math.max(1, config.GONG_EXPECTED_REPLICAS);
  const share = deps.share;
  if (config.REDIS_URL !== undefined) {
    return new RedisLimiter({
      redisUrl: config.REDIS_URL,
      keyPrefix: config.REDIS_KEY_PREFIX,
      ratePerSecond: config.GONG_RATE_PER_SECOND * (share ?? 1),
      burst: config.GONG_BURST,
      dailyLimit: Math.max(1, Math.floor(config.GONG_DAILY_LIMIT * (share ?? 1))),
      dailyWindow: config.GONG_DAILY_WINDOW,
      windowMarginMs: deps.windowMarginMs ?? config.GONG_RATE_MARGIN_MS,
      expectedReplicas: replicas,
      clock: deps.clock,
      sleep: deps.sleep,
      logger: deps.logger,
      connectTimeoutMs: deps.redis?.connectTimeoutMs,
      commandTimeoutMs: deps.redis?.commandTimeoutMs,
      probeIntervalMs: deps.redis?.probeIntervalMs,
    });
  }
  if (replicas > 1 && share === undefined) {
    deps.logger?.warn(
      { replicas },
      'no REDIS_URL: each replica limits itself to its share of the rate and the daily quota',
    );
  }
  const part = share ?? 1 / replicas;
  return new LocalLimiter({
    ratePerSecond: config.GONG_RATE_PER_SECOND * part,
    burst: config.GONG_BURST,
    dailyLimit: Math.max(1, Math.floor(config.GONG_DAILY_LIMIT * part)),
    dailyWindow: config.GONG_DAILY_WINDOW,
    windowMarginMs: deps.windowMarginMs ?? config.GONG_RATE_MARGIN_MS,
    clock: deps.clock,
    sleep: deps.sleep,
  });
}
