// The limiter's public surface; the delivery engine only needs the RateLimiter contract in
// ../limiter-types.ts and createRateLimiter.
export { createRateLimiter, type RateLimiterConfig, type RateLimiterDeps } from './create-rate-limiter.ts';
export { DisabledLimiter } from './disabled-limiter.ts';
export { LocalLimiter, type LocalLimiterOptions } from './local-limiter.ts';
export { RedisLimiter, type LimiterLogger, type RedisLimiterOptions } from './redis-limiter.ts';
export { commit, decide, LimiterCore, type Decision, type WaitReason } from './limiter-core.ts';
export type { DailyWindow, Instant } from './daily-budget.ts';
