import { TimestampLog } from './timestamp-log.ts';

export const SECOND_MS = 1000;
export const DAY_MS = 86_400_000;

/**
 * At most `limit` admitted calls in any rolling window of `windowMs`: a sliding log, not a fixed
 * window counter. A call at `t` sees every earlier admitted call at `s` with `t - s < windowMs`,
 * so a call exactly one window later no longer overlaps. A fixed per-second counter would let
 * 2 x limit calls through around a second boundary, and a client tuned against it would then be
 * throttled by the real Gong; the sandbox has to be at least as strict as Gong.
 *
 * Deliberately not shared with src/delivery/rate-limit: the sandbox is the referee for that
 * limiter, and a bug common to both would go unseen. It also counts differently on purpose: the
 * client's daily budget is minute-bucketed and conservative, the sandbox counts exactly as a
 * server would. Both agree that a call exactly `windowMs` after another no longer overlaps it.
 */
export class RollingLimit {
  readonly limit: number;
  readonly windowMs: number;
  readonly #log = new TimestampLog();
  #last = Number.NEGATIVE_INFINITY;

  /** `limit` 0 means unlimited: nothing is logged, so a benchmark run costs no memory here. */
  constructor(limit: number, windowMs: number) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  count(now: number): number {
    this.#evict(now);
    return this.#log.size;
  }

  /** 0 when a call may be admitted at `now`, else how long until the oldest blocking call leaves. */
  waitMs(now: number): number {
    if (this.limit === 0) return 0;
    this.#evict(now);
    const size = this.#log.size;
    if (size < this.limit) return 0;
    return this.#log.at(size - this.limit) + this.windowMs - now;
  }

  record(now: number): void {
    if (this.limit === 0) return;
    // An injected clock may step back in a test; keep the log ordered so eviction stays correct.
    this.#last = Math.max(this.#last, now);
    this.#log.push(this.#last);
  }

  clear(): void {
    this.#log.clear();
    this.#last = Number.NEGATIVE_INFINITY;
  }

  #evict(now: number): void {
    this.#log.dropWhile((at) => now - at >= this.windowMs);
  }
}

export type Admission =
  | { readonly admitted: true }
  | { readonly admitted: false; readonly reason: 'rate' | 'daily'; readonly retryAfterMs: number };

export interface QuotaSnapshot {
  readonly rps: number;
  readonly daily: number;
  readonly inLastSecond: number;
  readonly inLast24h: number;
  /** null when the daily budget is unlimited. */
  readonly dailyRemaining: number | null;
}

/** Gong's two limits on one account: calls per rolling second and calls per rolling 24 hours. */
export class SandboxQuota {
  readonly #rate: RollingLimit;
  readonly #daily: RollingLimit;

  constructor(limits: { rps: number; daily: number }) {
    this.#rate = new RollingLimit(limits.rps, SECOND_MS);
    this.#daily = new RollingLimit(limits.daily, DAY_MS);
  }

  /**
   * Admits and logs the call, or says why not. When both limits bind, the longer wait wins: it is
   * the one a client has to honour to get through.
   */
  tryAdmit(now: number): Admission {
    const rateWait = this.#rate.waitMs(now);
    const dailyWait = this.#daily.waitMs(now);
    if (rateWait > 0 || dailyWait > 0) {
      return dailyWait >= rateWait
        ? { admitted: false, reason: 'daily', retryAfterMs: dailyWait }
        : { admitted: false, reason: 'rate', retryAfterMs: rateWait };
    }
    this.#rate.record(now);
    this.#daily.record(now);
    return { admitted: true };
  }

  snapshot(now: number): QuotaSnapshot {
    const inLast24h = this.#daily.count(now);
    return {
      rps: this.#rate.limit,
      daily: this.#daily.limit,
      inLastSecond: this.#rate.count(now),
      inLast24h,
      dailyRemaining: this.#daily.limit === 0 ? null : Math.max(0, this.#daily.limit - inLast24h),
    };
  }

  clear(): void {
    this.#rate.clear();
    this.#daily.clear();
  }
}
