import { SECOND_MS } from './quota.ts';
import { TimestampLog } from './timestamp-log.ts';

/** Why a call got its answer; finer than the status (a 429 may be the rate or the daily budget). */
export type CallOutcome =
  | 'accepted'
  | 'lost-reply'
  | 'duplicate'
  | 'invalid'
  | 'too-large'
  | 'throttled-rate'
  | 'throttled-daily'
  | 'unauthorized'
  | 'injected-failure'
  | 'outage';

export interface CallRecord {
  /** 1-based, increasing; poll /_sandbox/calls?since=<last seq seen> for new calls. */
  readonly seq: number;
  /** Wall-clock epoch milliseconds when the call was handled. */
  readonly at: number;
  /** Monotonic milliseconds: compare these, not `at`, when checking spacing. */
  readonly t: number;
  readonly status: number;
  readonly outcome: CallOutcome;
  /** Whether the call used up rate and daily budget. */
  readonly counted: boolean;
  readonly eventId: string | null;
  readonly requestId: string;
}

export interface CallStats {
  readonly calls: number;
  readonly counted: number;
  readonly byStatus: Record<string, number>;
  readonly byOutcome: Partial<Record<CallOutcome, number>>;
  readonly bytesReceived: number;
  /**
   * Most authenticated calls (throttled ones included) that arrived within any rolling second: the
   * load the client offered. With --rps 0 this measures a client's own limiter.
   */
  readonly peakCallsPerRollingSecond: number;
}

/** The last `capacity` calls plus running totals over all of them since start or reset. */
export class CallLog {
  readonly capacity: number;
  #ring: CallRecord[] = [];
  #next = 0;
  // seq survives reset so a poller holding an old seq never misses or repeats calls.
  #seq = 0;
  #calls = 0;
  #counted = 0;
  #bytes = 0;
  #byStatus = new Map<number, number>();
  #byOutcome = new Map<CallOutcome, number>();
  readonly #recentAuthenticated = new TimestampLog();
  #peak = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Called once an attempt is authenticated, before any limit decides its fate. */
  noteAuthenticated(t: number): void {
    this.#recentAuthenticated.dropWhile((at) => t - at >= SECOND_MS);
    this.#recentAuthenticated.push(t);
    this.#peak = Math.max(this.#peak, this.#recentAuthenticated.size);
  }

  noteBytes(bytes: number): void {
    this.#bytes += bytes;
  }

  add(call: Omit<CallRecord, 'seq'>): CallRecord {
    this.#seq += 1;
    this.#calls += 1;
    const record: CallRecord = { seq: this.#seq, ...call };
    this.#byStatus.set(call.status, (this.#byStatus.get(call.status) ?? 0) + 1);
    this.#byOutcome.set(call.outcome, (this.#byOutcome.get(call.outcome) ?? 0) + 1);
    if (call.counted) this.#counted += 1;
    if (this.capacity > 0) {
      if (this.#ring.length < this.capacity) this.#ring.push(record);
      else this.#ring[this.#next] = record;
      this.#next = (this.#next + 1) % this.capacity;
    }
    return record;
  }

  /** Kept calls with seq > `since`, oldest first. */
  since(since: number, limit: number): CallRecord[] {
    const kept = this.#ring.length;
    // When the ring is full its oldest record sits where the next one will be written.
    const oldestIndex = kept < this.capacity ? 0 : this.#next;
    const firstSeq = this.#ring[oldestIndex]?.seq ?? this.#seq + 1;
    const calls: CallRecord[] = [];
    for (let i = Math.max(0, since + 1 - firstSeq); i < kept && calls.length < limit; i += 1) {
      calls.push(this.#ring[(oldestIndex + i) % kept] as CallRecord);
    }
    return calls;
  }

  stats(): CallStats {
    return {
      calls: this.#calls,
      counted: this.#counted,
      byStatus: Object.fromEntries([...this.#byStatus].sort(([a], [b]) => a - b)),
      byOutcome: Object.fromEntries(this.#byOutcome),
      bytesReceived: this.#bytes,
      peakCallsPerRollingSecond: this.#peak,
    };
  }

  clear(): void {
    this.#ring = [];
    this.#next = 0;
    this.#calls = 0;
    this.#counted = 0;
    this.#bytes = 0;
    this.#byStatus = new Map();
    this.#byOutcome = new Map();
    this.#recentAuthenticated.clear();
    this.#peak = 0;
  }
}
