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
 */
/** How late a paced start may be and still count as on schedule: about one timer tick. */
const PACING_SLACK_MS = 2;

export interface WindowPolicy {
  readonly ratePerSecond: number;
  readonly capacity: number;
  readonly burst: number;
  readonly windowMs: number;
  readonly emissionMs: number;
  readonly toleranceMs: number;
}

export interface WindowPolicyOptions {
  readonly ratePerSecond: number;
  readonly burst?: number | undefined;
  /**
   * Added to the 1 s window. Network jitter can bring two calls that left us 1000 ms apart
   * closer together at Gong; a few ms of margin absorbs that at a cost of margin / 1000 in rate.
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
    windowMs: 1000 + margin,
    emissionMs,
    toleranceMs: (burst - 1) * emissionMs,
  };
}

/** Identifies one recorded start, so its time can be moved to when the call really left. */
export type StartHandle = number;

export class PerSecondWindow {
  readonly policy: WindowPolicy;
  // The latest `capacity` start times, in no particular order once a start has been moved (see
  // `restamp`); the earliest of them is the one a new start replaces.
  readonly #starts: Float64Array;
  // Which start each entry holds, so a restamp never moves a start that was already replaced.
  readonly #handles: Float64Array;
  #filled = 0;
  #nextHandle = 1;
  // GCRA theoretical arrival time; -Infinity means "idle since forever".
  #tat = Number.NEGATIVE_INFINITY;

  // With burst == capacity and rate >= 1 the log already implies the pacing (any sequence the log
  // admits conforms to GCRA(1000 / rate, capacity - 1 intervals)), so pacing is skipped.
  readonly #pacing: boolean;

  constructor(policy: WindowPolicy) {
    this.policy = policy;
    this.#starts = new Float64Array(policy.capacity);
    this.#handles = new Float64Array(policy.capacity);
    this.#pacing = policy.burst < policy.capacity || policy.ratePerSecond < 1;
  }

  /** Milliseconds until a start is allowed at `now`; 0 when it is allowed now. Changes nothing. */
  waitMs(now: number): number {
    let wait = 0;
    if (this.#filled === this.policy.capacity) {
      wait = this.#starts[this.#earliest()]! + this.policy.windowMs - now;
    }
    if (!this.#pacing) return Math.max(0, wait);
    // Pacing only shapes bursts; sub-nanosecond float noise in the accumulated TAT must not turn
    // into an extra timer tick. The strict guarantee is the log above, which has no tolerance.
    const gcra = this.#tat - this.policy.toleranceMs - now;
    return Math.max(0, wait, gcra > 1e-6 ? gcra : 0);
  }

  /** How many starts could happen at `now`, back to back. */
  available(now: number): number {
    const { capacity, emissionMs, toleranceMs, windowMs } = this.policy;
    let inWindow = 0;
    for (let i = 0; i < this.#filled; i += 1) {
      if (this.#starts[i]! > now - windowMs) inWindow += 1;
    }
    const byLog = capacity - inWindow;
    const byGcra =
      !this.#pacing || this.#tat === Number.NEGATIVE_INFINITY
        ? capacity
        : Math.floor((now + toleranceMs - this.#tat + 1e-6) / emissionMs) + 1;
    return Math.max(0, Math.min(byLog, byGcra));
  }

  record(now: number): StartHandle {
    const handle = this.#nextHandle;
    this.#nextHandle += 1;
    const index = this.#filled < this.policy.capacity ? this.#filled++ : this.#earliest();
    this.#starts[index] = now;
    this.#handles[index] = handle;
    // A start a timer tick late (within the slack) keeps the pacing schedule instead of pushing
    // it back, or paced limiters lose ~1 ms per call to timer granularity (15% at 500/s). The
    // sliding log still bounds every rolling second.
    const late = now - this.#tat;
    const onSchedule = late > 0 && late <= Math.min(this.policy.emissionMs, PACING_SLACK_MS);
    this.#tat = (onSchedule ? this.#tat : Math.max(this.#tat, now)) + this.policy.emissionMs;
    return handle;
  }

  /**
   * The call behind `handle` left at `now`, later than it was granted: count it from `now`. Only
   * ever moves a start later, so the window can only get stricter. A start already replaced by a
   * newer one (its call took longer than the whole log to leave) is past helping and is ignored.
   * Pacing keeps the grant times: it shapes how calls are handed out, not when Gong sees them.
   */
  restamp(handle: StartHandle, now: number): void {
    for (let i = 0; i < this.#filled; i += 1) {
      if (this.#handles[i] === handle) {
        if (now > this.#starts[i]!) this.#starts[i] = now;
        return;
      }
    }
  }

  // The entry a new start replaces. Without restamps the entries are in start order and this is
  // the oldest; with them it is still the earliest, which keeps "the last `capacity` starts" exact.
  #earliest(): number {
    let index = 0;
    for (let i = 1; i < this.#filled; i += 1) {
      if (this.#starts[i]! < this.#starts[index]!) index = i;
    }
    return index;
  }
}
