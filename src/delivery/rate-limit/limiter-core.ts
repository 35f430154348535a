import type { CallSlot, LimiterSnapshot } from '../limiter-types.ts';
import { DailyBudget, type DailyCharge, type DailyWindow, type Instant } from './daily-budget.ts';
import { PerSecondWindow, windowPolicy, type StartHandle } from './per-second-window.ts';
import { RateEstimate } from './rate-estimate.ts';
import { WindowMargin } from './window-margin.ts';

export type WaitReason = 'rate' | 'throttled' | 'quota-exhausted';

/** An allowed start may carry the slot through which its caller reports when the call left. */
export type Decision =
  | { readonly allow: true; readonly slot?: CallSlot }
  | { readonly allow: false; readonly waitMs: number; readonly reason: WaitReason };

export interface LimiterCoreOptions {
  readonly ratePerSecond: number;
  readonly burst?: number | undefined;
  readonly windowMarginMs?: number | undefined;
  readonly dailyLimit: number;
  readonly dailyWindow: DailyWindow;
  readonly at: Instant;
  readonly dailyAlreadyUsed?: number | undefined;
  /** Shares one replica's view of the round trips between its limiters (Redis and fallback). */
  readonly margin?: WindowMargin | undefined;
}

/** One start `commit` recorded, with what it charged, so it can be moved, settled or handed back. */
export interface Grant {
  readonly handle: StartHandle;
  readonly at: Instant;
  readonly charge: DailyCharge;
}

/**
 * All the state one limiter decides on, with no clock, timer or I/O of its own: every method
 * takes the moment it is asked about. `decide` (below) only reads it; `commit` records a start.
 */
export class LimiterCore {
  readonly window: PerSecondWindow;
  readonly daily: DailyBudget;
  readonly rate: RateEstimate;
  readonly margin: WindowMargin;
  // Monotonic ms until which a 429 pauses every caller.
  #throttledUntil = Number.NEGATIVE_INFINITY;
  // Monotonic ms until which starts are held for another reason (a fallback cool-down).
  #heldUntil = Number.NEGATIVE_INFINITY;

  constructor(options: LimiterCoreOptions) {
    this.window = new PerSecondWindow(
      windowPolicy({
        ratePerSecond: options.ratePerSecond,
        burst: options.burst,
        windowMarginMs: options.windowMarginMs,
      }),
    );
    this.daily = new DailyBudget({
      limit: options.dailyLimit,
      window: options.dailyWindow,
      at: options.at,
      alreadyUsed: options.dailyAlreadyUsed,
    });
    this.rate = new RateEstimate(options.at.mono);
    this.margin = options.margin ?? new WindowMargin({ capMs: this.window.policy.marginMs });
  }

  /** A 429 with Retry-After: pauses everyone; a later, shorter Retry-After never shortens it. */
  throttle(at: Instant, retryAfterMs: number): number {
    this.#throttledUntil = Math.max(this.#throttledUntil, at.mono + retryAfterMs);
    return this.#throttledUntil;
  }

  hold(untilMono: number): void {
    this.#heldUntil = Math.max(this.#heldUntil, untilMono);
  }

  throttledUntil(): number {
    return this.#throttledUntil;
  }

  heldUntil(): number {
    return this.#heldUntil;
  }
}

/**
 * The decision: may a call start at `at`, and if not, how long until it may. The longest of
 * the waits wins, so the caller sleeps once and wakes exactly when every rule allows a start.
 */
export function decide(core: LimiterCore, at: Instant): Decision {
  let waitMs = 0;
  let reason: WaitReason = 'rate';
  const consider = (ms: number, why: WaitReason): void => {
    if (ms > waitMs) {
      waitMs = ms;
      reason = why;
    }
  };
  consider(core.throttledUntil() - at.mono, 'throttled');
  consider(core.heldUntil() - at.mono, 'rate');
  consider(core.window.waitMs(at.mono), 'rate');
  consider(core.daily.waitMs(at), 'quota-exhausted');
  return waitMs > 0 ? { allow: false, waitMs, reason } : { allow: true };
}

/**
 * Records a start that `decide` allowed. Until its answer is back it carries the largest recent
 * margin; `wire`, `settle` and `refund` then follow the call.
 */
export function commit(core: LimiterCore, at: Instant): Grant {
  const charge = core.daily.record(at);
  core.rate.record(at.mono);
  const handle = core.window.record(at.mono, core.margin.provisionalMs());
  return { handle, at, charge };
}

/** The call went on the wire at `now`, later than its grant: it counts from then. */
export function wire(core: LimiterCore, grant: Grant, now: number): void {
  core.window.restamp(grant.handle, now, core.margin.provisionalMs());
}

/**
 * The call's answer is back: it keeps only the margin its round trip showed it needed. Returns
 * whether that freed time in the window (the queue's head may start sooner).
 */
export function settle(core: LimiterCore, grant: Grant, wiredAt: number, marginMs: number): boolean {
  return core.window.settle(grant.handle, wiredAt, marginMs);
}

/** The call never went on the wire: its slot, its pacing and its daily charge are handed back. */
export function refund(core: LimiterCore, grant: Grant, at: Instant): void {
  core.window.remove(grant.handle);
  core.daily.refund(grant.charge, at);
  core.rate.refund(grant.at.mono);
}

/** The snapshot fields a local core can answer for itself. */
export function snapshotOf(core: LimiterCore, at: Instant, mode: LimiterSnapshot['mode']): LimiterSnapshot {
  const remaining = core.daily.remaining(at);
  const currentRate = core.rate.perSecond(at.mono);
  const throttled = core.throttledUntil() > at.mono;
  const exhausted = remaining === 0;
  let pausedUntil: number | null = null;
  let pauseReason: LimiterSnapshot['pauseReason'] = null;
  if (exhausted) {
    pausedUntil = core.daily.nextReleaseAt(at);
    pauseReason = 'quota-exhausted';
  }
  if (throttled) {
    const until = at.wall + (core.throttledUntil() - at.mono);
    if (pausedUntil === null || until > pausedUntil) {
      pausedUntil = until;
      pauseReason = 'throttled';
    }
  }
  const held = throttled || core.heldUntil() > at.mono;
  return {
    tokensAvailable: held ? 0 : Math.min(core.window.available(at.mono), remaining),
    ratePerSecond: core.window.policy.ratePerSecond,
    dailyLimit: core.daily.limit,
    dailyRemaining: remaining,
    projectedExhaustionAt: projectExhaustion(
      at,
      remaining,
      currentRate,
      core.daily.window === 'utc-day' ? core.daily.nextReleaseAt(at) : null,
    ),
    pausedUntil,
    pauseReason,
    mode,
    currentRatePerSecond: currentRate,
    windowMarginMs: core.margin.averageMs(),
  };
}

/**
 * When the remaining budget runs out at `ratePerSecond`, in epoch ms; null when it does not
 * (no traffic, or a utc-day budget that resets first). Pessimistic for a rolling window: calls
 * expiring out of the window in the meantime would push it later.
 */
export function projectExhaustion(
  at: Instant,
  remaining: number,
  ratePerSecond: number,
  resetsAt: number | null,
): number | null {
  if (remaining <= 0) return at.wall;
  if (ratePerSecond <= 0) return null;
  const when = at.wall + (remaining / ratePerSecond) * 1000;
  return resetsAt !== null && when >= resetsAt ? null : Math.round(when);
}
