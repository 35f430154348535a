/** Monotonic milliseconds plus wall-clock milliseconds, injected so tests move time by hand. */
export interface Clock {
  /** Monotonic milliseconds (performance.now()-like); never goes backwards. */
  now(): number;
  /** Wall-clock epoch milliseconds (Date.now()-like); may jump. Used for UTC-day windows and reports. */
  wallNow(): number;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface LimiterSnapshot {
  /** Calls that may start right now without breaking the per-second guarantee. */
  readonly tokensAvailable: number;
  readonly ratePerSecond: number;
  readonly dailyLimit: number;
  readonly dailyRemaining: number;
  /** Epoch ms at which the daily budget runs out at the current rate, or null if it does not. */
  readonly projectedExhaustionAt: number | null;
  /** Epoch ms until which calls are paused (429 Retry-After or spent quota), or null. */
  readonly pausedUntil: number | null;
  readonly pauseReason: 'throttled' | 'quota-exhausted' | null;
  /** 'redis' when the cluster-wide limiter is in use, 'local-fallback' when Redis is unreachable. */
  readonly mode: 'local' | 'redis' | 'local-fallback' | 'disabled';
}

/**
 * The contract between the delivery engine and any limiter (local, Redis-backed, disabled).
 * `acquire` resolves when one call may be made right now; it never lets more than the configured
 * rate start in any rolling second, nor more than the daily budget.
 */
export interface RateLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
  /** A 429 arrived: every caller waits until `retryAfterMs` from now has passed. */
  onThrottled(retryAfterMs: number): void;
  snapshot(): LimiterSnapshot;
  close(): Promise<void>;
}
