import type { Clock, Sleep } from '../shared/time.ts';
import { isBridgeError } from '../errors.ts';
import type { SourceRecord } from './dlq.ts';
import type { RuntimeEvents } from './events.ts';
import type { OffsetTracker, TrackedRecord } from './offset-tracker.ts';
import type { Lane, PartitionBuffer } from './partition-buffer.ts';

/** A record waiting in its lane, and its place in the offset tracker. */
export interface Work {
  readonly record: SourceRecord;
  readonly tracked: TrackedRecord;
}

export interface RecordDispatchOptions {
  readonly buffer: PartitionBuffer<Work>;
  readonly tracker: OffsetTracker;
  /** One record to a settled state (record-handling.ts). */
  readonly handle: (record: SourceRecord, signal: AbortSignal) => Promise<void>;
  /** `count` more records became committable (the commit scheduler's settled). */
  readonly settled: (count: number) => void;
  /** A record ended, settled or not: the lanes' backpressure may have changed. */
  readonly onRecordEnded: () => void;
  readonly events: RuntimeEvents;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly maxInFlight: number;
  readonly commitMaxPending: number;
}

/**
 * Dispatch: records start round-robin over the lanes, at most MAX_IN_FLIGHT at once.
 * Settled records normally wait for a commit only until COMMIT_MAX_PENDING of them do. When
 * they cannot be committed (a record below them is still being worked, say its dead letter
 * waits for the DLQ, or commits fail), the lane goes on until as many wait as its share of
 * the buffer holds (at least COMMIT_MAX_PENDING), then starts nothing new until a commit covers
 * them: a crash never replays more, and the tracker's memory stays bounded. Stopping at
 * COMMIT_MAX_PENDING instead would stall a partition behind every slow record.
 */
export class RecordDispatch {
  readonly #options: RecordDispatchOptions;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: RecordDispatchOptions) {
    this.#options = options;
  }

  /** Records being worked now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  readonly #startable = (lane: Lane<Work>): boolean =>
    this.#options.tracker.settledUncommitted(lane.topic, lane.partition) <
    Math.max(this.#options.commitMaxPending, this.#options.buffer.share());

  /** Starts queued records while there is room; called whenever room may have appeared. */
  pump(): void {
    const { buffer } = this.#options;
    while (this.#inFlight.size < this.#options.maxInFlight) {
      const next = buffer.take(this.#startable);
      if (next === undefined) return;
      const { item, lane } = next;
      const task: Promise<void> = this.#process(item, lane.signal).finally(() => {
        this.#inFlight.delete(task);
        buffer.finish(lane);
        this.#options.onRecordEnded();
        this.pump();
      });
      this.#inFlight.add(task);
    }
  }

  /** Resolves true if every in-flight record settled within `ms`. */
  async waitForInFlight(ms: number): Promise<boolean> {
    const { clock, sleep } = this.#options;
    const deadline = clock.now() + ms;
    while (this.#inFlight.size > 0) {
      const left = deadline - clock.now();
      if (left <= 0) return false;
      const timer = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.#inFlight]),
        sleep(left, timer.signal).catch(() => {}),
      ]);
      timer.abort();
    }
    return true;
  }

  async #process(work: Work, signal: AbortSignal): Promise<void> {
    const { tracker, events, sleep } = this.#options;
    const { record } = work;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.handle(record, signal);
        this.#options.settled(tracker.complete(work.tracked));
        return;
      } catch (error) {
        // Interrupted by a revoke or shutdown before it settled: the record stays unsettled, so
        // its offset is not committed and it is consumed again, by whoever owns it next.
        if (signal.aborted || (isBridgeError(error) && error.code === 'SHUTTING_DOWN')) return;
        // Anything else is a bug. Dead-lettering it would hide the bug and lose the event's
        // delivery; retrying keeps it loud (one event per attempt) and loses nothing.
        events.emit('internal-error', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          error: error instanceof Error ? error.message : String(error),
          ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
        });
        try {
          await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt - 1, 5)), signal);
        } catch {
          return;
        }
      }
    }
  }
}
