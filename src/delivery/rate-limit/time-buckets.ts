/**
 * Counts events in fixed-width time buckets, oldest first. The daily budget and the rate
 * estimate use it so that memory stays bounded by the horizon / bucket width (1,440 minute
 * buckets for 24 h) instead of one timestamp per call.
 */
export class TimeBuckets {
  readonly bucketMs: number;
  // Parallel arrays used as a deque: index `#head` is the oldest live bucket.
  #ids: number[] = [];
  #counts: number[] = [];
  #head = 0;
  #total = 0;

  constructor(bucketMs: number) {
    this.bucketMs = bucketMs;
  }

  bucketOf(time: number): number {
    return Math.floor(time / this.bucketMs);
  }

  add(time: number, count = 1): void {
    const id = this.bucketOf(time);
    const last = this.#ids.length - 1;
    // Time only moves forward on the monotonic clock, so a new id is always the newest bucket.
    if (last >= this.#head && this.#ids[last]! >= id) {
      this.#counts[last]! += count;
    } else {
      this.#ids.push(id);
      this.#counts.push(count);
    }
    this.#total += count;
  }

  /** Drops every bucket whose id is <= `lastExpiredId`. */
  dropThrough(lastExpiredId: number): void {
    while (this.#head < this.#ids.length && this.#ids[this.#head]! <= lastExpiredId) {
      this.#total -= this.#counts[this.#head]!;
      this.#head += 1;
    }
    // Compact now and then so the arrays do not grow with the number of buckets ever used.
    if (this.#head > 64 && this.#head * 2 > this.#ids.length) {
      this.#ids = this.#ids.slice(this.#head);
      this.#counts = this.#counts.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Sum of the buckets whose id is > `lastExcludedId`, without changing anything. */
  sumAfter(lastExcludedId: number): number {
    let sum = this.#total;
    for (let i = this.#head; i < this.#ids.length && this.#ids[i]! <= lastExcludedId; i += 1) {
      sum -= this.#counts[i]!;
    }
    return sum;
  }

  /** The oldest bucket with an id > `lastExcludedId`, or null. */
  oldestAfter(lastExcludedId: number): number | null {
    for (let i = this.#head; i < this.#ids.length; i += 1) {
      if (this.#ids[i]! > lastExcludedId) return this.#ids[i]!;
    }
    return null;
  }

  get size(): number {
    return this.#ids.length - this.#head;
  }
}
