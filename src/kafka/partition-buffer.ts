import type { TopicPartition } from './offset-tracker.ts';

/**
 * The records fetched and not yet settled, shared fairly between the assigned partitions.
 *
 * Each partition of the current assignment has a lane with an equal share of MAX_BUFFERED
 * (at least one record). A fetch may fill its lane's share and no more; a full lane's partition
 * is paused and resumed once it drained to half its share, so one partition's fetch can no longer
 * fill the whole buffer and leave the others idle. Records are started round-robin over the
 * lanes, so every partition advances (and commits) at the same pace.
 *
 * A lane belongs to one generation of the assignment. Revoking it aborts its signal at once: the
 * records it started may no longer begin a call, and its queued records are dropped, since the
 * partition's next owner fetches them again.
 *
 * Pure: no Kafka, no time.
 */
export class Lane<T> implements TopicPartition {
  readonly #controller = new AbortController();
  #queue: T[] = [];
  #head = 0;
  /** Queued, plus started and not yet finished. */
  buffered = 0;
  /** Fetching paused because the lane is full (set by PartitionBuffer.backpressure). */
  full = false;

  readonly topic: string;
  readonly partition: number;
  readonly key: string;

  constructor(topic: string, partition: number, key: string) {
    this.topic = topic;
    this.partition = partition;
    this.key = key;
  }

  /** Aborted when the partition is revoked: nothing of it may start a call after that. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get revoked(): boolean {
    return this.#controller.signal.aborted;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  push(item: T): void {
    this.#queue.push(item);
    this.buffered += 1;
  }

  shift(): T | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const item = this.#queue[this.#head]!;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Drops the queued records; returns how many. */
  drop(): number {
    const dropped = this.queued;
    this.#queue = [];
    this.#head = 0;
    this.buffered -= dropped;
    return dropped;
  }

  revoke(reason: string): number {
    const dropped = this.drop();
    this.#controller.abort(new Error(reason));
    return dropped;
  }
}

export const laneKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export interface BackpressureChange<T> {
  /** Lanes that just filled up: pause their partitions. */
  readonly pause: readonly Lane<T>[];
  /** Lanes drained to half their share: resume their partitions. */
  readonly resume: readonly Lane<T>[];
}

export class PartitionBuffer<T> {
  #lanes = new Map<string, Lane<T>>();
  /** Round-robin order of the lanes; `#cursor` is where the next search starts. */
  #order: Lane<T>[] = [];
  #cursor = 0;

  readonly maxBuffered: number;

  constructor(maxBuffered: number) {
    this.maxBuffered = maxBuffered;
  }

  /** Records each lane may hold: an equal share of MAX_BUFFERED, at least one. */
  share(): number {
    return Math.max(1, Math.floor(this.maxBuffered / Math.max(1, this.#order.length)));
  }

  /** Lanes for a new assignment; lanes of partitions no longer assigned are revoked. Returns records dropped. */
  assign(partitions: readonly TopicPartition[], reason = 'partition no longer assigned'): number {
    const next = new Map<string, Lane<T>>();
    for (const { topic, partition } of partitions) {
      const key = laneKey(topic, partition);
      next.set(key, this.#lanes.get(key) ?? new Lane<T>(topic, partition, key));
    }
    let dropped = 0;
    for (const [key, lane] of this.#lanes) if (!next.has(key)) dropped += lane.revoke(reason);
    this.#lanes = next;
    this.#order = [...next.values()];
    this.#cursor = 0;
    return dropped;
  }

  /** Revokes every lane (an eager rebalance, a crash, shutdown). Returns records dropped. */
  revokeAll(reason: string): number {
    let dropped = 0;
    for (const lane of this.#order) dropped += lane.revoke(reason);
    this.#lanes = new Map();
    this.#order = [];
    this.#cursor = 0;
    return dropped;
  }

  /** The current lane of a partition; a batch for an unknown partition (no assignment seen yet) adds one. */
  lane(topic: string, partition: number): Lane<T> {
    const key = laneKey(topic, partition);
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = new Lane<T>(topic, partition, key);
      this.#lanes.set(key, lane);
      this.#order.push(lane);
    }
    return lane;
  }

  lanes(): readonly Lane<T>[] {
    return this.#order;
  }

  /** How many more records the lane may take now. */
  room(lane: Lane<T>): number {
    return lane.revoked ? 0 : Math.max(0, this.share() - lane.buffered);
  }

  /**
   * The next queued record, taking lanes in turn and skipping those `startable` refuses (a lane
   * whose settled records cannot be committed yet waits; the others go on).
   */
  take(startable: (lane: Lane<T>) => boolean): { readonly item: T; readonly lane: Lane<T> } | undefined {
    const count = this.#order.length;
    for (let step = 0; step < count; step++) {
      const lane = this.#order[(this.#cursor + step) % count]!;
      if (lane.queued === 0 || !startable(lane)) continue;
      this.#cursor = (this.#cursor + step + 1) % count;
      return { item: lane.shift()!, lane };
    }
    return undefined;
  }

  /** A started record of the lane settled or was abandoned. */
  finish(lane: Lane<T>): void {
    if (lane.buffered > 0) lane.buffered -= 1;
  }

  /** Drops every queued record (shutdown); returns how many. */
  dropQueued(): number {
    let dropped = 0;
    for (const lane of this.#order) dropped += lane.drop();
    return dropped;
  }

  queued(): number {
    let total = 0;
    for (const lane of this.#order) total += lane.queued;
    return total;
  }

  /** Lanes that filled up or drained since the last call; flips their `full` flag. */
  backpressure(): BackpressureChange<T> {
    const share = this.share();
    const resumeAt = Math.floor(share / 2);
    const pause: Lane<T>[] = [];
    const resume: Lane<T>[] = [];
    for (const lane of this.#order) {
      if (!lane.full && lane.buffered >= share) {
        lane.full = true;
        pause.push(lane);
      } else if (lane.full && lane.buffered <= resumeAt) {
        lane.full = false;
        resume.push(lane);
      }
    }
    return { pause, resume };
  }

  /** Partitions currently paused because their lane is full. */
  fullLanes(): Lane<T>[] {
    return this.#order.filter((lane) => lane.full);
  }
}
