/**
 * The breaker on Gong rejections. A 400 is about one body, so it is dead-lettered; but when Gong
 * rejects event after event with the same errors and accepts none in between, the likelier cause
 * is shared by every record: Gong changed its contract, a gateway in front of it answers 400 to
 * everything, or an upstream deploy broke every event the same way. Dead-lettering would drain the
 * whole stream into the DLQ at full speed. Past `threshold` different events in a row with the same
 * errors the engine halts instead (unready, an alert, probes), and an operator decides.
 *
 * Pure: no clock, no I/O. "In a row" means no delivery in between; rejections with other errors
 * are counted on their own, so a stream whose bad events alternate between two messages still
 * trips the breaker.
 */
export class RejectionBreaker {
  readonly threshold: number;
  /** Rejections since the last delivery, by key: the distinct events rejected with those errors. */
  readonly #runs = new Map<string, Set<string>>();

  /** `threshold` 0 turns the breaker off. */
  constructor(threshold: number) {
    this.threshold = Math.max(0, Math.floor(threshold));
  }

  /** Records a rejection of `eventId`; true when it completes a run long enough to trip. */
  observe(key: string, eventId: string): boolean {
    if (this.threshold === 0) return false;
    let events = this.#runs.get(key);
    if (events === undefined) {
      // A stream of rejections that all differ never trips; keep the map from growing with them.
      if (this.#runs.size >= maxTrackedKeys) {
        const oldest = this.#runs.keys().next().value;
        if (oldest !== undefined) this.#runs.delete(oldest);
      }
      events = new Set();
      this.#runs.set(key, events);
    }
    if (events.size < this.threshold) events.add(eventId);
    return events.size >= this.threshold;
  }

  /** Gong accepted an event: whatever was rejected before is about those events. */
  reset(): void {
    this.#runs.clear();
  }
}

const maxTrackedKeys = 64;

/**
 * What makes two rejections "the same": status and Gong's errors, with digits folded, so an
 * error that quotes a value, an index or a timestamp still matches the same error for another
 * event.
 */
export function rejectionKey(status: number, errors: readonly string[] | undefined): string {
  const text = (errors ?? []).join(' | ').replace(/\d+/g, '#').trim();
  return `${status} ${text}`;
}
