import { BridgeError } from '../../errors.ts';
import type { SpentMinute } from '../limiter-types.ts';
import { TimeBuckets } from './time-buckets.ts';

export type { SpentMinute } from '../limiter-types.ts';

export type DailyWindow = 'rolling' | 'utc-day';

export const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** A moment on both clocks: `mono` for durations, `wall` (epoch ms) for calendar days and reports. */
export interface Instant {
  readonly mono: number;
  readonly wall: number;
}

export interface DailyBudgetOptions {
  readonly limit: number;
  readonly window: DailyWindow;
  /** When the budget is created; a utc-day budget anchors its first midnight on it. */
  readonly at: Instant;
  /** Calls already spent (a replica falling back charges what the cluster had used). */
  readonly alreadyUsed?: number | undefined;
}

/** What one recorded call charged, so a refund takes it back from the same place. */
export interface DailyCharge {
  readonly mono: number;
  /** The UTC day index the call was counted in (utc-day window). */
  readonly day: number;
}

/**
 * The daily quota. Both windows run on the monotonic clock so that a wall-clock step cannot
 * hand out a second day's budget early:
 *
 * - 'rolling': a call counts for 24 h. Calls are kept as per-minute counts (at most 1,441
 *   buckets), and a bucket expires 24 h after the *end* of its minute, so the count is never
 *   lower than the true rolling count (it is up to one minute conservative).
 * - 'utc-day': the count resets at UTC midnight. The wall clock is read only to place the next
 *   midnight, and the reset then happens on the monotonic clock; at a reset the next midnight is
 *   placed again from the wall clock but never on the day that just ended, so a clock stepped back
 *   across midnight cannot reset the count twice.
 */
export class DailyBudget {
  readonly limit: number;
  readonly window: DailyWindow;
  readonly #minutes = new TimeBuckets(MINUTE_MS);
  // utc-day state: calls in the current day, the day's UTC index and its end on the monotonic clock.
  #dayUsed = 0;
  #dayIndex: number;
  #dayEndsMono: number;

  constructor(options: DailyBudgetOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new BridgeError(
        'CONFIG_INVALID',
        `daily limit must be a positive integer, got ${options.limit}`,
        {
          context: { variable: 'GONG_DAILY_LIMIT' },
        },
      );
    }
    this.limit = options.limit;
    this.window = options.window;
    this.#dayIndex = Math.floor(options.at.wall / DAY_MS);
    this.#dayEndsMono = options.at.mono + ((this.#dayIndex + 1) * DAY_MS - options.at.wall);
    const used = Math.min(this.limit, Math.max(0, Math.floor(options.alreadyUsed ?? 0)));
    if (used > 0) {
      this.#dayUsed = used;
      this.#minutes.add(options.at.mono, used);
    }
  }

  used(at: Instant): number {
    if (this.window === 'rolling') return this.#minutes.sumAfter(this.#lastExpiredMinute(at.mono));
    return at.mono >= this.#dayEndsMono ? 0 : this.#dayUsed;
  }

  remaining(at: Instant): number {
    return Math.max(0, this.limit - this.used(at));
  }

  /** Milliseconds until one more call fits in the budget; 0 when it fits now. Changes nothing. */
  waitMs(at: Instant): number {
    if (this.used(at) < this.limit) return 0;
    if (this.window === 'utc-day') return this.#dayEndsMono - at.mono;
    // Spent: the next call fits when enough of the oldest minutes have expired. With every bucket
    // holding >= 1 call, waiting for the oldest live bucket frees at least one call.
    const oldest = this.#minutes.oldestAfter(this.#lastExpiredMinute(at.mono));
    if (oldest === null) return 0;
    return (oldest + 1) * MINUTE_MS + DAY_MS - at.mono;
  }

  /** Epoch ms at which the budget next grows back (utc-day: midnight; rolling: oldest minute expires). */
  nextReleaseAt(at: Instant): number | null {
    if (this.window === 'utc-day') return at.wall + Math.max(0, this.#dayEndsMono - at.mono);
    const oldest = this.#minutes.oldestAfter(this.#lastExpiredMinute(at.mono));
    return oldest === null ? null : at.wall + ((oldest + 1) * MINUTE_MS + DAY_MS - at.mono);
  }

  record(at: Instant): DailyCharge {
    this.#minutes.dropThrough(this.#lastExpiredMinute(at.mono));
    if (this.window === 'utc-day') {
      this.#rollDay(at);
      this.#dayUsed += 1;
    } else {
      this.#minutes.add(at.mono);
    }
    return { mono: at.mono, day: this.#dayIndex };
  }

  /**
   * Takes back one recorded call whose request never went on the wire. A call whose minute has
   * already left the rolling day, or whose UTC day has ended, has nothing left to take back.
   */
  refund(charge: DailyCharge, at: Instant): void {
    if (this.window === 'rolling') {
      this.#minutes.remove(charge.mono);
    } else if (charge.day === this.#dayIndex && at.mono < this.#dayEndsMono && this.#dayUsed > 0) {
      this.#dayUsed -= 1;
    }
  }

  /**
   * Charges calls spent before this process started (read back from where a previous process
   * left them), placed on the wall clock: a rolling day keeps each minute's calls until 24 h after
   * that minute ends, a utc-day counts those of the current UTC day. Returns how many still count.
   * Across a restart the monotonic clock is gone, so this trusts the wall clock for once.
   */
  restore(spent: readonly SpentMinute[], at: Instant): number {
    let restored = 0;
    for (const { minuteStart, count } of spent) {
      if (!(count > 0)) continue;
      const minuteEnd = minuteStart + MINUTE_MS;
      if (this.window === 'utc-day') {
        if (Math.floor(minuteStart / DAY_MS) !== this.#dayIndex || at.mono >= this.#dayEndsMono) continue;
        const room = this.limit - this.#dayUsed;
        const taken = Math.min(room, count);
        this.#dayUsed += taken;
        restored += taken;
      } else {
        if (minuteEnd + DAY_MS <= at.wall) continue;
        // The last moment of that minute on our monotonic clock (never in our future), so the
        // bucket it lands in expires no earlier than the minute itself would.
        const mono = at.mono - Math.max(0, at.wall - (minuteEnd - 1));
        this.#minutes.addAt(mono, count);
        restored += count;
      }
    }
    return restored;
  }

  #lastExpiredMinute(mono: number): number {
    // Bucket m expires at (m + 1) minutes + 24 h; the newest expired one is the largest such m.
    return Math.floor((mono - DAY_MS) / MINUTE_MS) - 1;
  }

  #rollDay(at: Instant): void {
    if (at.mono < this.#dayEndsMono) return;
    const wallDay = Math.floor(at.wall / DAY_MS);
    // Never re-enter the day that just ended, whatever the wall clock says.
    this.#dayIndex = Math.max(this.#dayIndex + 1, wallDay);
    this.#dayEndsMono = at.mono + Math.max(0, (this.#dayIndex + 1) * DAY_MS - at.wall);
    this.#dayUsed = 0;
  }
}
