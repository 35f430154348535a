import type { Clock, Sleep } from '../../src/shared/time.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/**
 * A Clock and Sleep that only move when a test says so. `advance` runs due timers in order and
 * lets promise chains settle between them, so code that sleeps and re-checks behaves as it would
 * on real time. The wall clock can be stepped on its own to model NTP jumps.
 */
export class ManualClock implements Clock {
  mono: number;
  #wallOffset: number;
  #timers: Timer[] = [];
  #seq = 0;
  /** Every sleep request, in ms, for asserting that nobody over-sleeps. */
  readonly sleeps: number[] = [];

  constructor(options: { mono?: number; wall?: number } = {}) {
    this.mono = options.mono ?? 1_000;
    this.#wallOffset = (options.wall ?? Date.UTC(2026, 10, 24, 12, 0, 0)) - this.mono;
  }

  now(): number {
    return this.mono;
  }

  wallNow(): number {
    return this.mono + this.#wallOffset;
  }

  /** Steps the wall clock only (NTP correction, operator error); the monotonic clock is unaffected. */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  readonly sleep: Sleep = (ms, signal) => {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      const timer: Timer = {
        at: this.mono + Math.max(0, ms),
        seq: this.#seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#timers.push(timer);
    });
  };

  /** Moves the monotonic (and wall) clock forward by `ms`, firing timers on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    await settle();
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.mono = Math.max(this.mono, next.at);
      next.fire();
      await settle();
    }
    this.mono = target;
    await settle();
  }
}

/** Lets every pending promise continuation run (setImmediate comes after the microtask queue). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
