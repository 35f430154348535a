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

  /** Adds to the bucket of `time` wherever it falls, older buckets included (restoring a history). */
  addAt(time: number, count: number): void {
    const id = this.bucketOf(time);
    let i = this.#ids.length;
    while (i > this.#head && this.#ids[i - 1]! > id) i -= 1;
    if (i > this.#head && this.#ids[i - 1] === id) {
      this.#counts[i - 1]! += count;
    } else {
      this.#ids.splice(i, 0, id);
      this.#counts.splice(i, 0, count);
    }
    this.#total += count;
  }

  /**
   * Takes `count` back from the bucket holding `time`, if that bucket is still kept (a refund of a
   * call that never left). Returns how many were taken back.
   */
  remove(time: number, count = 1): number {
    const id = this.bucketOf(time);
    // Refunds concern recent calls: search from the newest bucket back.
    for (let i = this.#ids.length - 1; i >= this.#head && this.#ids[i]! >= id; i -= 1) {
      if (this.#ids[i] !== id) continue;
      const taken = Math.min(count, this.#counts[i]!);
      this.#counts[i]! -= taken;
      this.#total -= taken;
      return taken;
    }
    return 0;
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

  /** The oldest bucket with an id > `lastExcludedId` that still holds something, or null. */
  oldestAfter(lastExcludedId: number): number | null {
    for (let i = this.#head; i < this.#ids.length; i += 1) {
      // A bucket emptied by refunds frees nothing when it expires.
      if (this.#ids[i]! > lastExcludedId && this.#counts[i]! > 0) return this.#ids[i]!;
    }
    return null;
  }

  get size(): number {
    return this.#ids.length - this.#head;
  }
}
