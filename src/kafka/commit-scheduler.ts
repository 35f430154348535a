/**
 * When to commit. Every settled record waits for a commit, and a crash replays the ones still
 * waiting (each costing a Gong call, or a second dead letter), so commits follow settlements
 * closely; but each commit is a write to the group's offsets topic, so they are coalesced:
 *
 *  - a commit starts as soon as `maxPending` records became committable since the last one began,
 *    or `intervalMs` after the first of them did, whichever is first;
 *  - one commit at a time: what settles meanwhile goes into the next one, started as soon as
 *    the current one ends if the count is reached again;
 *  - a commit that did not go through (the broker refused, or kafkajs was restarting) is tried
 *    again `intervalMs` later, or sooner if `maxPending` more records settle first, never in a
 *    tight loop.
 *
 * Pure: the timer and the commit itself are injected.
 */
export interface CommitSchedulerOptions {
  readonly maxPending: number;
  readonly intervalMs: number;
  /** Commits what is committable; resolves true when the broker acknowledged all of it. Never rejects. */
  readonly commit: () => Promise<boolean>;
  /** Runs `run` once after `ms`; returns a function that cancels it. */
  readonly schedule: (run: () => void, ms: number) => () => void;
}

export class CommitScheduler {
  readonly #options: CommitSchedulerOptions;
  /** Records that became committable since the last commit started. */
  #pending = 0;
  #cancelTimer: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: CommitSchedulerOptions) {
    this.#options = options;
  }

  /** Records waiting for a commit that the scheduler knows of. */
  get pending(): number {
    return this.#pending;
  }

  /** `count` more records became committable. */
  settled(count: number): void {
    if (count <= 0 || this.#stopped) return;
    this.#pending += count;
    if (this.#pending >= this.#options.maxPending) void this.flush();
    else this.#arm();
  }

  /**
   * Commits now (after the commit in progress, if any); resolves once what was committable at
   * the call has been tried. Used by the count, the timer, revokes and shutdown.
   */
  flush(): Promise<void> {
    this.#disarm();
    if (this.#running !== undefined) {
      // The loop in #run goes round once more, within the same promise.
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** No more timers or automatic commits; explicit flushes still run. */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  async #run(): Promise<void> {
    do {
      this.#again = false;
      this.#pending = 0;
      const acknowledged = await this.#options.commit();
      if (!acknowledged) this.#arm();
    } while (this.#again || (this.#pending >= this.#options.maxPending && !this.#stopped));
    if (this.#pending > 0) this.#arm();
  }

  #arm(): void {
    if (this.#cancelTimer !== undefined || this.#stopped) return;
    this.#cancelTimer = this.#options.schedule(() => {
      this.#cancelTimer = undefined;
      void this.flush();
    }, this.#options.intervalMs);
  }

  #disarm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }
}
