/**
 * An ordered log of timestamps (milliseconds) held in a growable ring of Float64 slots. The
 * sandbox keeps one per rolling window; a plain array would do until a long benchmark run, where
 * `shift()` on hundreds of thousands of entries and one boxed number per call start to show.
 */
export class TimestampLog {
  #slots: Float64Array;
  #head = 0;
  #size = 0;

  constructor(initialCapacity = 16) {
    this.#slots = new Float64Array(Math.max(1, initialCapacity));
  }

  get size(): number {
    return this.#size;
  }

  /** Timestamps must arrive in non-decreasing order; the windows rely on the oldest being first. */
  push(at: number): void {
    if (this.#size === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#size) % this.#slots.length] = at;
    this.#size += 1;
  }

  /** The i-th oldest entry (0 is the oldest). */
  at(index: number): number {
    if (index < 0 || index >= this.#size) throw new RangeError(`index ${index} outside 0..${this.#size - 1}`);
    return this.#slots[(this.#head + index) % this.#slots.length] as number;
  }

  /** Drops every entry for which `isExpired` holds, oldest first, stopping at the first survivor. */
  dropWhile(isExpired: (at: number) => boolean): void {
    while (this.#size > 0 && isExpired(this.#slots[this.#head] as number)) {
      this.#head = (this.#head + 1) % this.#slots.length;
      this.#size -= 1;
    }
  }

  clear(): void {
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const next = new Float64Array(this.#slots.length * 2);
    for (let i = 0; i < this.#size; i += 1)
      next[i] = this.#slots[(this.#head + i) % this.#slots.length] as number;
    this.#slots = next;
    this.#head = 0;
  }
}
