import { BridgeError } from '../../errors.ts';

/**
 * The per-second rule, on the monotonic clock. Two checks must both pass:
 *
 * 1. A sliding log of the last `capacity` starts: the (k + capacity)-th start is never earlier
 *    than `windowMs` after the k-th, which is exactly "at most `capacity` starts in any rolling
 *    window" as a strict server's own sliding log counts it. Unlike a fixed window or a classic
 *    token bucket it cannot admit 2R around a window edge. It holds at most `capacity` entries.
 * 2. GCRA pacing (emission interval 1000 / rate, tolerance (burst - 1) intervals). It shapes
 *    bursts below the rate and carries fractional rates below 1/s (0.5/s = one call per 2 s).
 *
 * Capacity is floor(rate) (at least 1): a count of calls is an integer, so "at most 1.67 calls
 * in any second" means at most 1. A fractional rate above 1 therefore runs at floor(rate) in the
 * long run; below 1 it runs at exactly the rate.
 *
 * Burst is how many calls may start back to back after an idle spell: 1 spaces every call by
 * 1000 / rate ms; `capacity` (the default) lets the whole second's worth start at once. It is
 * clamped to the capacity, because a larger burst would break rule 1.
 *
 * Each start in the log carries its own margin: it counts from `start + margin` for one rolling
 * second. The margin covers what may happen between the start we saw and the arrival Gong counts
 * (network and scheduling jitter); `WindowMargin` sizes it per call from the call's own round trip
 * once its answer is back, and until then the largest recent margin stands in for it.
 */
/** How late a paced start may be and still count as on schedule: about one timer tick. */
const PACING_SLACK_MS = 2;

/** The rolling window Gong counts calls in. */
export const ROLLING_SECOND_MS = 1000;

export interface WindowPolicy {
  readonly ratePerSecond: number;
  readonly capacity: number;
  readonly burst: number;
  /** The most margin one start may carry (GONG_RATE_MARGIN_MS). */
  readonly marginMs: number;
  /** How long one start can hold its slot at most: a second plus the largest margin. */
  readonly windowMs: number;
  readonly emissionMs: number;
  readonly toleranceMs: number;
}

export interface WindowPolicyOptions {
  readonly ratePerSecond: number;
  readonly burst?: number | undefined;
  /**
   * The most margin a start may carry on top of its second. Network jitter can bring two calls
   * that left us 1000 ms apart closer together at Gong; the margin absorbs that, at a cost of
   * margin / 1000 in rate for every call that needs all of it.
   */
  readonly windowMarginMs?: number | undefined;
}

export function windowPolicy(options: WindowPolicyOptions): WindowPolicy {
  const rate = options.ratePerSecond;
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new BridgeError('CONFIG_INVALID', `rate per second must be a positive number, got ${rate}`, {
      context: { variable: 'GONG_RATE_PER_SECOND' },
    });
  }
  const margin = options.windowMarginMs ?? 0;
  if (!Number.isFinite(margin) || margin < 0) {
    throw new BridgeError('CONFIG_INVALID', `window margin must be >= 0 ms, got ${margin}`);
  }
  // The epsilon keeps 3 / 3 * 3-style float noise (2.9999999) from losing a whole call.
  const capacity = Math.max(1, Math.floor(rate + 1e-9));
  const requested = options.burst ?? capacity;
  if (!Number.isInteger(requested) || requested < 1) {
    throw new BridgeError('CONFIG_INVALID', `burst must be a positive integer, got ${requested}`, {
      context: { variable: 'GONG_BURST' },
    });
  }
  const burst = Math.min(requested, capacity);
  const emissionMs = 1000 / rate;
  return {
    ratePerSecond: rate,
    capacity,
    burst,
    marginMs: margin,
    windowMs: ROLLING_SECOND_MS + margin,
    emissionMs,
    toleranceMs: (burst - 1) * emissionMs,
  };
}

/** Identifies one recorded start, so its time can be moved to when the call really left. */
export type StartHandle = number;

export class PerSecondWindow {
  readonly policy: WindowPolicy;
  // For each of the latest `capacity` starts, the moment it counts from (its start plus its
  // margin), in no particular order once starts have been moved; the earliest of them is the one
  // a new start replaces. A start holds its slot until one rolling second after that moment.
  readonly #counts: Float64Array;
  // Which start each entry holds, so a late report never moves a start that was already replaced.
  readonly #handles: Float64Array;
  #filled = 0;
  #nextHandle = 1;
  // GCRA theoretical arrival time; -Infinity means "idle since forever".
  #tat = Number.NEGATIVE_INFINITY;
  // The latest start and the TAT before it, so handing that start back undoes its pacing exactly.
  #lastHandle = 0;
  #tatBeforeLast = Number.NEGATIVE_INFINITY;

  // With burst == capacity and rate >= 1 the log already implies the pacing (any sequence the log
  // admits conforms to GCRA(1000 / rate, capacity - 1 intervals)), so pacing is skipped.
  readonly #pacing: boolean;

  constructor(policy: WindowPolicy) {
    this.policy = policy;
    this.#counts = new Float64Array(policy.capacity);
    this.#handles = new Float64Array(policy.capacity);
    this.#pacing = policy.burst < policy.capacity || policy.ratePerSecond < 1;
  }

  /** Milliseconds until a start is allowed at `now`; 0 when it is allowed now. Changes nothing. */
  waitMs(now: number): number {
    let wait = 0;
    if (this.#filled === this.policy.capacity) {
      wait = this.#counts[this.#earliest()]! + ROLLING_SECOND_MS - now;
    }
    if (!this.#pacing) return Math.max(0, wait);
    // Pacing only shapes bursts; sub-nanosecond float noise in the accumulated TAT must not turn
    // into an extra timer tick. The strict guarantee is the log above, which has no tolerance.
    const gcra = this.#tat - this.policy.toleranceMs - now;
    return Math.max(0, wait, gcra > 1e-6 ? gcra : 0);
  }

  /** How many starts could happen at `now`, back to back. */
  available(now: number): number {
    const { capacity, emissionMs, toleranceMs } = this.policy;
    let inWindow = 0;
    for (let i = 0; i < this.#filled; i += 1) {
      if (this.#counts[i]! > now - ROLLING_SECOND_MS) inWindow += 1;
    }
    const byLog = capacity - inWindow;
    const byGcra =
      !this.#pacing || this.#tat === Number.NEGATIVE_INFINITY
        ? capacity
        : Math.floor((now + toleranceMs - this.#tat + 1e-6) / emissionMs) + 1;
    return Math.max(0, Math.min(byLog, byGcra));
  }

  /** Records a start at `now` that counts from `now + marginMs` (default: the largest margin). */
  record(now: number, marginMs = this.policy.marginMs): StartHandle {
    const handle = this.#nextHandle;
    this.#nextHandle += 1;
    const index = this.#filled < this.policy.capacity ? this.#filled++ : this.#earliest();
    this.#counts[index] = now + marginMs;
    this.#handles[index] = handle;
    // A start a timer tick late (within the slack) keeps the pacing schedule instead of pushing
    // it back, or paced limiters lose ~1 ms per call to timer granularity (15% at 500/s). The
    // sliding log still bounds every rolling second.
    this.#lastHandle = handle;
    this.#tatBeforeLast = this.#tat;
    const late = now - this.#tat;
    const onSchedule = late > 0 && late <= Math.min(this.policy.emissionMs, PACING_SLACK_MS);
    this.#tat = (onSchedule ? this.#tat : Math.max(this.#tat, now)) + this.policy.emissionMs;
    return handle;
  }

  /**
   * The call behind `handle` left at `now`, later than it was granted: count it from `now` plus
   * `marginMs`. Only ever moves a start later, so the window can only get stricter. A start
   * already replaced by a newer one (its call took longer than the whole log to leave) is past
   * helping and is ignored. Pacing keeps the grant times: it shapes how calls are handed out, not
   * when Gong sees them.
   */
  restamp(handle: StartHandle, now: number, marginMs = this.policy.marginMs): void {
    const index = this.#indexOf(handle);
    if (index !== -1 && now + marginMs > this.#counts[index]!) this.#counts[index] = now + marginMs;
  }

  /**
   * The answer to the call behind `handle` is back: it left at `wiredAt` and reached Gong at most
   * `marginMs` later than the fastest calls do, so it counts from `wiredAt + marginMs`. This may be
   * earlier than the margin it was held with while nobody knew; that is the quota it gives back.
   * Returns whether the start now counts from earlier (a slot may have opened).
   */
  settle(handle: StartHandle, wiredAt: number, marginMs: number): boolean {
    const index = this.#indexOf(handle);
    if (index === -1) return false;
    const settled = wiredAt + Math.min(marginMs, this.policy.marginMs);
    const earlier = settled < this.#counts[index]!;
    this.#counts[index] = settled;
    return earlier;
  }

  /**
   * Hands the start behind `handle` back: its call never went on the wire. Its slot is free at
   * once; its pacing too when it was the latest start (an earlier one is woven into the schedule
   * of those after it, which then stays as it is: later, never earlier).
   */
  remove(handle: StartHandle): boolean {
    if (handle === this.#lastHandle) {
      this.#tat = this.#tatBeforeLast;
      this.#lastHandle = 0;
    }
    const index = this.#indexOf(handle);
    if (index === -1) return false;
    const last = this.#filled - 1;
    this.#counts[index] = this.#counts[last]!;
    this.#handles[index] = this.#handles[last]!;
    this.#filled = last;
    return true;
  }

  #indexOf(handle: StartHandle): number {
    for (let i = 0; i < this.#filled; i += 1) {
      if (this.#handles[i] === handle) return i;
    }
    return -1;
  }

  // The entry a new start replaces. Without moves the entries are in start order and this is
  // the oldest; with them it is still the earliest, which keeps "the last `capacity` starts" exact.
  #earliest(): number {
    let index = 0;
    for (let i = 1; i < this.#filled; i += 1) {
      if (this.#counts[i]! < this.#counts[index]!) index = i;
    }
    return index;
  }
}
