/**
 * Sizes the margin each call keeps on top of its rolling second, from what the bridge can see.
 *
 * Gong counts a call when it arrives; we know when it left (`onWire`) and when its answer came
 * back (`release`). Two calls that left 1000 ms apart arrive closer together only if the earlier
 * one spent longer on the way. How much longer than the fastest call can be read from its round
 * trip: `round trip - the fastest recent round trip` bounds the extra time it may have spent
 * travelling to Gong (it also holds Gong's own extra processing and the way back, so the bound is
 * on the safe side). A call that came back as fast as the fastest needs no margin; one held up on
 * the way gets exactly the margin it needs. The cost in rate is therefore the average of those
 * margins, not the worst one, which is what a fixed margin has to be sized for.
 *
 * Every margin has a small floor added (see `floorMs`), and an allowance for the fastest recent
 * round trip being slower than the fastest there is (see `#needed`). A call whose answer is not back yet keeps
 * the whole cap (GONG_RATE_MARGIN_MS): a slow answer is exactly what a call held up on its way to
 * Gong looks like, so nothing seen on other calls says it needs less. No margin is larger than the
 * cap: a call held up longer than that can still arrive too close to a later one, as with a fixed
 * margin of the same size.
 *
 * Pure: no clock, no timers. The limiter feeds it round trips in milliseconds.
 */
export interface WindowMarginOptions {
  /** The largest margin a call may keep (GONG_RATE_MARGIN_MS). */
  readonly capMs: number;
  /**
   * Added to every call's excess round trip: the fastest round trip may itself have been fast on
   * the way back and slow on the way there, which the bridge cannot see; on a busy host that split
   * moved by up to ~1.3 ms between calls. Default 2 ms.
   */
  readonly floorMs?: number | undefined;
  /**
   * How many recent round trips the fastest one is taken from. Default 256. A new call is faster
   * than all of them one time in (samples + 1), by about the round trips' spread / samples: with
   * 64 and 180 ms of jitter that was ~2.8 ms, more than the floor, and drew 429s; with 256 it is
   * ~0.7 ms. A longer look-back only errs on the safe side when the round trips grow for good
   * (the margins stay larger until the faster samples have aged out).
   */
  readonly samples?: number | undefined;
  /** Round trips needed before the baseline is trusted; until then every margin is the cap. Default 8. */
  readonly warmup?: number | undefined;
}

export class WindowMargin {
  readonly capMs: number;
  readonly floorMs: number;
  readonly #warmup: number;
  readonly #capacity: number;
  // The recent round trips in arrival order (a ring), and the same values sorted, for the fastest
  // and the spread.
  readonly #ring: Float64Array;
  readonly #sorted: number[] = [];
  readonly #margins: Float64Array;
  #next = 0;
  #seen = 0;

  constructor(options: WindowMarginOptions) {
    this.capMs = Math.max(0, options.capMs);
    this.floorMs = Math.min(this.capMs, Math.max(0, options.floorMs ?? 2));
    this.#capacity = Math.max(1, Math.floor(options.samples ?? 256));
    this.#warmup = Math.min(this.#capacity, Math.max(1, Math.floor(options.warmup ?? 8)));
    this.#ring = new Float64Array(this.#capacity);
    this.#margins = new Float64Array(this.#capacity);
  }

  /** The margin for a call whose answer is not back yet: the cap. */
  provisionalMs(): number {
    return this.capMs;
  }

  /** A call's answer is back after `roundTripMs` on the wire; returns the margin it needs. */
  observe(roundTripMs: number): number {
    const sample = Math.max(0, roundTripMs);
    if (this.#seen >= this.#capacity) this.#sorted.splice(this.#position(this.#ring[this.#next]!), 1);
    this.#sorted.splice(this.#position(sample), 0, sample);
    this.#ring[this.#next] = sample;
    this.#seen += 1;
    const margin = this.#seen >= this.#warmup ? Math.min(this.capMs, this.#needed(sample)) : this.capMs;
    this.#margins[this.#next] = margin;
    this.#next = (this.#next + 1) % this.#capacity;
    return margin;
  }

  /** The average margin of the recent answered calls: what the margin costs in rate, for the snapshot. */
  averageMs(): number {
    const filled = Math.min(this.#seen, this.#capacity);
    if (filled === 0) return this.capMs;
    let sum = 0;
    for (let i = 0; i < filled; i += 1) sum += this.#margins[i]!;
    return sum / filled;
  }

  /**
   * The floor, the call's round trip above the fastest recent one, and how much faster than that
   * fastest one a later call may still be: the fastest of n round trips overstates the fastest
   * there is by about spread / n, and a later call undercuts it by more than 7 x spread / n about
   * once in a thousand (round trips spread evenly between the fastest and the 90th percentile). A
   * run's first calls, with few samples, keep more; with 256 samples and 40 ms of spread it is
   * ~1 ms. Without it a call early in a run at 200 +- 20 ms drew a 429.
   */
  #needed(sample: number): number {
    const n = this.#sorted.length;
    const fastest = this.#sorted[0]!;
    const spread = this.#sorted[Math.floor(0.9 * (n - 1))]! - fastest;
    return this.floorMs + (sample - fastest) + (7 * spread) / n;
  }

  /** Where `value` goes in the sorted samples (binary search; the first position not below it). */
  #position(value: number): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#sorted[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
