import { TimeBuckets } from './time-buckets.ts';

const BUCKET_MS = 10_000;
export const RATE_HORIZON_MS = 300_000;

/**
 * "Current rate" for projections: starts per second over the last 5 minutes, in 10 s buckets
 * (at most 31 of them). Shorter than the daily window on purpose, so a projection reacts to
 * today's traffic within minutes; longer than a burst, so one busy second does not swing it.
 * Until 5 minutes have passed it averages over the time since `startedMono`.
 */
export class RateEstimate {
  readonly #buckets = new TimeBuckets(BUCKET_MS);
  readonly #startedMono: number;

  constructor(startedMono: number) {
    this.#startedMono = startedMono;
  }

  record(mono: number): void {
    this.#buckets.dropThrough(this.#lastExcluded(mono));
    this.#buckets.add(mono);
  }

  /** Takes back a start recorded at `mono` whose call never left. */
  refund(mono: number): void {
    this.#buckets.remove(mono);
  }

  perSecond(mono: number): number {
    const span = Math.min(RATE_HORIZON_MS, mono - this.#startedMono);
    // Under a second of history says nothing about a rate.
    if (span < 1000) return 0;
    return (this.#buckets.sumAfter(this.#lastExcluded(mono)) * 1000) / span;
  }

  #lastExcluded(mono: number): number {
    return this.#buckets.bucketOf(mono - RATE_HORIZON_MS);
  }
}
