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
 * Every margin has a small floor added (see `floorMs`). A call whose answer is not back yet keeps
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
  readonly #roundTrips: Float64Array;
  readonly #margins: Float64Array;
  #next = 0;
  #seen = 0;

  constructor(options: WindowMarginOptions) {
    this.capMs = Math.max(0, options.capMs);
    this.floorMs = Math.min(this.capMs, Math.max(0, options.floorMs ?? 2));
    const samples = Math.max(1, Math.floor(options.samples ?? 256));
    this.#warmup = Math.min(samples, Math.max(1, Math.floor(options.warmup ?? 8)));
    this.#roundTrips = new Float64Array(samples);
    this.#margins = new Float64Array(samples);
  }

  /** The margin for a call whose answer is not back yet: the cap. */
  provisionalMs(): number {
    return this.capMs;
  }

  /** A call's answer is back after `roundTripMs` on the wire; returns the margin it needs. */
  observe(roundTripMs: number): number {
    const sample = Math.max(0, roundTripMs);
    this.#roundTrips[this.#next] = sample;
    this.#seen += 1;
    const filled = Math.min(this.#seen, this.#roundTrips.length);
    let fastest = sample;
    for (let i = 0; i < filled; i += 1) fastest = Math.min(fastest, this.#roundTrips[i]!);
    const warm = this.#seen >= this.#warmup;
    const margin = warm ? Math.min(this.capMs, this.floorMs + sample - fastest) : this.capMs;
    this.#margins[this.#next] = margin;
    this.#next = (this.#next + 1) % this.#roundTrips.length;
    return margin;
  }

  /** The average margin of the recent answered calls: what the margin costs in rate, for the snapshot. */
  averageMs(): number {
    const filled = Math.min(this.#seen, this.#margins.length);
    if (filled === 0) return this.capMs;
    let sum = 0;
    for (let i = 0; i < filled; i += 1) sum += this.#margins[i]!;
    return sum / filled;
  }
}
