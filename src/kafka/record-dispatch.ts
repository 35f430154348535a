import type { Clock, Sleep } from '../shared/time.ts';
import { isBridgeError } from '../errors.ts';
import type { Settlement, SettlementTimes } from '../receipts/receipt.ts';
import type { ReceiptWriter } from '../receipts/writer.ts';
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
  readonly handle: (record: SourceRecord, signal: AbortSignal) => Promise<Settlement>;
  /** KAFKA_RECEIPTS_TOPIC: a receipt per settled record, acknowledged before its commit. */
  readonly receipts: Pick<ReceiptWriter, 'write'> | undefined;
  /** Counts the acknowledged receipts. */
  readonly counts: { receipts: number };
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
 * COMMIT_MAX_PENDING instead would stall a partition behind every slow record. Records waiting
 * for their receipt count too: they are settled, uncommitted, and replayed by a crash.
 *
 * Settle: the tracker learns of a settled record at once, or, with a receipts topic, once its
 * receipt is acknowledged. The record has left MAX_IN_FLIGHT by then; it still counts against
 * its lane's bound of settled, uncommitted records while the receipt is on its way.
 */
export class RecordDispatch {
  readonly #options: RecordDispatchOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** Receipt writes of settled records, not yet acknowledged; revokes and shutdown wait for them too. */
  readonly #receiptsPending = new Set<Promise<void>>();
  /** Per lane, its records waiting for a receipt: they count against the lane's commit bound. */
  readonly #receiptWaits = new Map<Lane<Work>, number>();

  constructor(options: RecordDispatchOptions) {
    this.#options = options;
  }

  /** Records being worked now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Settled records waiting for their receipt's acknowledgement. */
  get receiptsPending(): number {
    return this.#receiptsPending.size;
  }

  /** Records on the wire: Gong calls and dead-letter writes, and receipts not yet acknowledged. */
  get working(): number {
    return this.#inFlight.size + this.#receiptsPending.size;
  }

  readonly #startable = (lane: Lane<Work>): boolean =>
    this.#options.tracker.settledUncommitted(lane.topic, lane.partition) +
      (this.#receiptWaits.get(lane) ?? 0) <
    Math.max(this.#options.commitMaxPending, this.#options.buffer.share());

  /** Starts queued records while there is room; called whenever room may have appeared. */
  pump(): void {
    const { buffer } = this.#options;
    while (this.#inFlight.size < this.#options.maxInFlight) {
      const next = buffer.take(this.#startable);
      if (next === undefined) return;
      const { item, lane } = next;
      const task: Promise<void> = this.#process(item, lane).finally(() => {
        this.#inFlight.delete(task);
        buffer.finish(lane);
        this.#options.onRecordEnded();
        this.pump();
      });
      this.#inFlight.add(task);
    }
  }

  /** Resolves true if every in-flight record settled, and its receipt was acknowledged, within `ms`. */
  async waitForInFlight(ms: number): Promise<boolean> {
    const { clock, sleep } = this.#options;
    const deadline = clock.now() + ms;
    while (this.working > 0) {
      const left = deadline - clock.now();
      if (left <= 0) return false;
      const timer = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.#inFlight, ...this.#receiptsPending]),
        sleep(left, timer.signal).catch(() => {}),
      ]);
      timer.abort();
    }
    return true;
  }

  async #process(work: Work, lane: Lane<Work>): Promise<void> {
    const { events, sleep, clock } = this.#options;
    const { record } = work;
    const { signal } = lane;
    const firstAttemptAt = clock.wallNow();
    for (let attempt = 1; ; attempt++) {
      try {
        const settlement = await this.#options.handle(record, signal);
        this.#settled(work, lane, settlement, firstAttemptAt);
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

  #settled(work: Work, lane: Lane<Work>, settlement: Settlement, firstAttemptAt: number): void {
    const { receipts, tracker, clock } = this.#options;
    if (receipts === undefined) {
      this.#options.settled(tracker.complete(work.tracked));
      return;
    }
    const times = { firstAttemptAt, settledAt: clock.wallNow() };
    this.#receiptWaits.set(lane, (this.#receiptWaits.get(lane) ?? 0) + 1);
    let written: Promise<void>;
    try {
      written = receipts.write(work.record, settlement, times);
    } catch (error) {
      written = Promise.reject(error as Error);
    }
    // The common path is one promise per record: written, counted, completed. The acknowledged
    // receipt leaves the lane's bound unchanged (the record moves from waiting for its receipt
    // to settled, uncommitted), so only a receipt that ends otherwise lets the lane start more.
    const task: Promise<void> = written.then(
      () => {
        this.#receiptWritten(work, settlement);
        this.#release(task, lane);
      },
      (error: unknown) =>
        this.#writeReceiptAgain(receipts, work, lane, settlement, times, error).finally(() => {
          this.#release(task, lane);
          this.pump();
        }),
    );
    this.#receiptsPending.add(task);
  }

  #release(task: Promise<void>, lane: Lane<Work>): void {
    this.#receiptsPending.delete(task);
    const left = (this.#receiptWaits.get(lane) ?? 1) - 1;
    if (left > 0) this.#receiptWaits.set(lane, left);
    else this.#receiptWaits.delete(lane);
  }

  #receiptWritten(work: Work, settlement: Settlement): void {
    const { record } = work;
    this.#options.counts.receipts += 1;
    this.#options.events.emit('receipt-written', {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      outcome: settlement.outcome,
    });
    this.#options.settled(this.#options.tracker.complete(work.tracked));
  }

  /**
   * After a failed receipt write, until the receipt is acknowledged. The batched producer retries
   * what may succeed and probes a topic that refuses every write (a halt), so what reaches here is
   * the producer closing (shutdown: the record stays uncommitted and is consumed again), a
   * receipts topic whose max.message.bytes is below a receipt's size (already reported as
   * `receipt-write-failed` too-large), or a bug. Those are tried again, loudly, 1 s doubling to
   * 30 s, until a revoke or shutdown ends it.
   */
  async #writeReceiptAgain(
    writer: Pick<ReceiptWriter, 'write'>,
    work: Work,
    lane: Lane<Work>,
    settlement: Settlement,
    times: SettlementTimes,
    firstError: unknown,
  ): Promise<void> {
    const { events, sleep } = this.#options;
    const { record } = work;
    let error = firstError;
    for (let attempt = 1; ; attempt++) {
      if (isBridgeError(error) && error.code === 'SHUTTING_DOWN') return;
      if (!(isBridgeError(error) && error.code === 'PRODUCE_TOO_LARGE')) {
        events.emit('internal-error', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          error: `receipt not written: ${error instanceof Error ? error.message : String(error)}`,
          ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
        });
      }
      try {
        await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt - 1, 5)), lane.signal);
      } catch {
        return;
      }
      try {
        await writer.write(record, settlement, times);
        this.#receiptWritten(work, settlement);
        return;
      } catch (next) {
        error = next;
      }
    }
  }
}
