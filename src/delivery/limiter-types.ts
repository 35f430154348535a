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
  /**
   * The "current rate" behind projectedExhaustionAt: call starts per second averaged over the
   * last 5 minutes (or since start-up when shorter). Cluster-wide in 'redis' mode.
   */
  readonly currentRatePerSecond?: number;
  /**
   * The average margin the recent answered calls kept on their rolling second (see
   * rate-limit/window-margin.ts): 2 ms plus their round trip above the fastest, at most
   * GONG_RATE_MARGIN_MS. What network and scheduling jitter cost in rate.
   */
  readonly windowMarginMs?: number;
}

/**
 * One call that `acquire` let start. The limiter first counts it at the moment of the grant; the
 * caller reports when the request actually goes on the wire, and the call then counts from there.
 * Gong counts calls when they arrive, and a call that first has to open a connection (DNS, TCP,
 * TLS: a cold pool at start-up, or after an idle connection closed) leaves later than one on a
 * warm connection. Counted from the grant, a burst on cold connections followed a second later by
 * one on warm connections can put twice the rate into one rolling second at Gong.
 */
export interface CallSlot {
  /** The request is being written to an open connection now. Calls after the first are ignored. */
  onWire(): void;
  /**
   * The caller is done with this slot. If its request never went on the wire (no `onWire`: the
   * connection was refused, the grant was dropped because a 429 or a halt arrived meanwhile, the
   * caller was aborted), the grant is handed back to the per-second window and the daily budget,
   * locally and in Redis: a call Gong never saw must not cost quota. A no-op after `onWire`, and
   * after the first call. The engine calls it once for every slot it was granted.
   */
  release(): void;
}

/** The slot of a limiter that does not need to know when calls leave. */
export const untrackedSlot: CallSlot = Object.freeze({ onWire: () => undefined, release: () => undefined });

/**
 * The contract between the delivery engine and any limiter (local, Redis-backed, disabled).
 * `acquire` resolves when one call may be made right now; it never lets more than the configured
 * rate start in any rolling second, nor more than the daily budget. A start is the later of the
 * grant and the moment the caller reports through `CallSlot.onWire`.
 */
export interface RateLimiter {
  acquire(signal?: AbortSignal): Promise<CallSlot>;
  /** A 429 arrived: every caller waits until `retryAfterMs` from now has passed. */
  onThrottled(retryAfterMs: number): void;
  snapshot(): LimiterSnapshot;
  close(): Promise<void>;
}

/**
 * Everything a limiter reports, so metrics and logs subscribe instead of the limiter importing
 * them. Times are epoch ms (for humans and dashboards); durations are ms.
 */
export interface LimiterEventMap {
  /**
   * A caller got its slot. `waitedMs` is how long it queued; `grantedAt` is the monotonic ms at
   * which the limiter counted the start (the moment its guarantees are about); `serverTimeMs` is
   * Redis TIME when Redis decided.
   */
  acquired: { readonly waitedMs: number; readonly grantedAt: number; readonly serverTimeMs: number | null };
  /**
   * A granted call never went on the wire (refused, or dropped for a 429 or a halt that arrived
   * while it queued): its grant went back to the per-second window and the daily budget.
   * `grantedAt` is the monotonic ms of the grant, `grantedWallAt` its epoch ms.
   */
  refunded: { readonly grantedAt: number; readonly grantedWallAt: number };
  /** The head of the queue has to wait this long before the next slot opens. */
  wait: { readonly waitMs: number; readonly reason: 'rate' | 'throttled' | 'quota-exhausted' };
  /** onThrottled was called: every caller pauses until `until`. */
  throttled: { readonly retryAfterMs: number; readonly until: number };
  /** The daily budget is spent; calls wait until `until`. Emitted once per exhaustion. */
  'quota-exhausted': { readonly until: number; readonly dailyLimit: number };
  /** Redis is unreachable: this replica limits itself locally at its share of the budget. */
  fallback: { readonly error: string; readonly ratePerSecond: number; readonly dailyLimit: number };
  /** Redis answers again: the cluster-wide limiter is back in charge. */
  recovered: { readonly downtimeMs: number };
}

export type LimiterEventName = keyof LimiterEventMap;

/** Calls spent in one wall-clock minute, as a process that stopped left them behind. */
export interface SpentMinute {
  /** Epoch ms of the minute's start (a multiple of 60,000). */
  readonly minuteStart: number;
  readonly count: number;
}

/** A RateLimiter that also reports what it does; every limiter gong-bridge builds is one. */
export interface ObservableRateLimiter extends RateLimiter {
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends LimiterEventName>(event: K, listener: (payload: LimiterEventMap[K]) => void): () => void;
  /**
   * Charges the daily budget with calls made before this process started (see
   * src/kafka/quota-ledger.ts); returns how many still count. Only a limiter that keeps the daily
   * count in this process has it: Redis keeps its own.
   */
  restoreSpent?(spent: readonly SpentMinute[]): number;
}
