/**
 * Which offset may be committed, per partition, when records finish out of order; and which
 * settled records would be sent again if the process stopped now.
 *
 * Records of one partition are started in fetch order (ascending offsets, possibly with gaps:
 * compaction and transaction markers leave holes) and complete in any order. The committable
 * position is the offset of the oldest record not yet completed, or one past the newest started
 * record when all are complete. Contiguity is judged over the records started, not over
 * offset + 1, because a hole in the log is not a record anyone is waiting for.
 *
 * A completed record stays "settled, not committed" until the broker acknowledges a commit past
 * it: those are what a crash replays, so the runtime bounds how many may wait. When a revoke
 * forgets a partition, its settled-not-committed records are carried over, each with a
 * fingerprint of its content: if the next generation fetches the same record at the same offset
 * again (the revoke's commit was lost or came too late) it is registered as settled without being
 * sent again. A record at a carried offset with another fingerprint means the offsets were
 * reused (a recreated topic, an unclean leader election): it is new work, and everything carried
 * for that partition is dropped.
 *
 * Pure: no Kafka, no time. Offsets are strings at the edges (as kafkajs hands them out) and
 * bigint inside, since Kafka offsets are int64.
 */

import { crc32 } from 'node:zlib';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface CommittableOffset extends TopicPartition {
  /** The next offset to consume: the one to commit. */
  readonly offset: string;
}

/** A started record; complete it with the same handle. A handle of a forgotten partition is inert. */
export interface TrackedRecord extends TopicPartition {
  readonly offset: string;
}

export type StartResult =
  /** Not seen before: dispatch it, then `complete(record)`. */
  | { readonly kind: 'new'; readonly record: TrackedRecord }
  /** Already started in this generation (a re-fetch), or below the committed position: skip it. */
  | { readonly kind: 'started' }
  /** Settled by this process before a revoke, same content: registered as settled, not sent again. */
  | { readonly kind: 'settled'; readonly committable: number };

/**
 * What identifies a record's content, for recognising the same record at the same offset after a
 * rejoin: its timestamp, the sizes and CRC-32s of key and value. A different record reusing the
 * offset (recreated topic, unclean leader election) differs in at least one of them.
 */
export function recordFingerprint(record: {
  readonly timestamp: string;
  readonly key?: Buffer | null | undefined;
  readonly value?: Buffer | null | undefined;
}): string {
  const part = (bytes: Buffer | null | undefined) =>
    bytes === null || bytes === undefined ? '-' : `${bytes.length}.${crc32(bytes).toString(16)}`;
  return `${record.timestamp}/${part(record.key)}/${part(record.value)}`;
}

class Entry implements TrackedRecord {
  done = false;
  readonly owner: PartitionOffsets;
  readonly value: bigint;
  readonly fingerprint: string;

  constructor(owner: PartitionOffsets, value: bigint, fingerprint: string) {
    this.owner = owner;
    this.value = value;
    this.fingerprint = fingerprint;
  }

  get topic(): string {
    return this.owner.topic;
  }

  get partition(): number {
    return this.owner.partition;
  }

  get offset(): string {
    return this.value.toString();
  }
}

class PartitionOffsets {
  /** Started records, oldest first; `head` skips the completed prefix without shifting. */
  #entries: Entry[] = [];
  #head = 0;
  #pending = 0;
  #highestStarted: bigint | undefined;
  /** Position every started record below has completed; undefined until one completes. */
  #position: bigint | undefined;
  #committed: bigint | undefined;
  /** Completed records at or above the acknowledged commit: offset to fingerprint. */
  readonly #settled = new Map<bigint, string>();
  /** Settled by an earlier generation of this process and not known to be committed. */
  readonly #carried: Map<bigint, string>;

  readonly topic: string;
  readonly partition: number;

  constructor(topic: string, partition: number, carried: Map<bigint, string>) {
    this.topic = topic;
    this.partition = partition;
    this.#carried = carried;
  }

  start(offset: bigint, fingerprint: string): StartResult {
    if (this.#highestStarted !== undefined && offset <= this.#highestStarted) return { kind: 'started' };
    if (this.#committed !== undefined && offset < this.#committed) return { kind: 'started' };
    const entry = new Entry(this, offset, fingerprint);
    this.#entries.push(entry);
    this.#highestStarted = offset;
    this.#pending += 1;
    const carried = this.#carried.get(offset);
    if (carried !== undefined) {
      if (carried === fingerprint) {
        this.#carried.delete(offset);
        return { kind: 'settled', committable: this.complete(entry) };
      }
      // The same offset holds another record: the log was rewritten, nothing carried is valid.
      this.#carried.clear();
    }
    return { kind: 'new', record: entry };
  }

  /** Number of records the committable position moved past (0 if it did not move). */
  complete(entry: Entry): number {
    if (entry.done) return 0;
    entry.done = true;
    this.#pending -= 1;
    if (this.#committed === undefined || entry.value >= this.#committed) {
      this.#settled.set(entry.value, entry.fingerprint);
    }
    let passed = 0;
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.done) {
      this.#position = this.#entries[this.#head]!.value + 1n;
      this.#head += 1;
      passed += 1;
    }
    // Compact once the dead prefix dominates, so memory follows the records still pending.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return passed;
  }

  get pending(): number {
    return this.#pending;
  }

  get settledUncommitted(): number {
    return this.#settled.size;
  }

  /** The position to commit if it moved past what was last committed. */
  committable(): bigint | undefined {
    if (this.#position === undefined) return undefined;
    if (this.#committed !== undefined && this.#position <= this.#committed) return undefined;
    return this.#position;
  }

  position(): bigint | undefined {
    return this.#position;
  }

  markCommitted(offset: bigint): void {
    if (this.#committed !== undefined && offset <= this.#committed) return;
    this.#committed = offset;
    for (const settled of this.#settled.keys()) if (settled < offset) this.#settled.delete(settled);
    for (const carried of this.#carried.keys()) if (carried < offset) this.#carried.delete(carried);
  }

  committed(): bigint | undefined {
    return this.#committed;
  }

  /** What the next generation may register as settled: carried-over and newly settled records. */
  carryOver(): Map<bigint, string> {
    const out = new Map(this.#carried);
    for (const [offset, fingerprint] of this.#settled) out.set(offset, fingerprint);
    return out;
  }
}

export class OffsetTracker {
  readonly #partitions = new Map<string, Map<number, PartitionOffsets>>();
  /** Per partition not currently tracked: settled records carried over from a forgotten generation. */
  readonly #carried = new Map<string, Map<number, Map<bigint, string>>>();

  #get(topic: string, partition: number): PartitionOffsets | undefined {
    return this.#partitions.get(topic)?.get(partition);
  }

  #getOrCreate(topic: string, partition: number): PartitionOffsets {
    let byPartition = this.#partitions.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.#partitions.set(topic, byPartition);
    }
    let state = byPartition.get(partition);
    if (state === undefined) {
      const carried = this.#carried.get(topic)?.get(partition) ?? new Map<bigint, string>();
      this.#carried.get(topic)?.delete(partition);
      state = new PartitionOffsets(topic, partition, carried);
      byPartition.set(partition, state);
    }
    return state;
  }

  /**
   * Registers a fetched record. `fingerprint` identifies its content (see recordFingerprint); it
   * is what lets a repeat after a rejoin be recognised as the record already settled.
   */
  start(topic: string, partition: number, offset: string, fingerprint = ''): StartResult {
    return this.#getOrCreate(topic, partition).start(BigInt(offset), fingerprint);
  }

  /**
   * Marks a started record finished (delivered, duplicate or dead-lettered). Returns how many
   * records became committable; 0 for a record of a partition forgotten since it started.
   */
  complete(record: TrackedRecord): number {
    if (!(record instanceof Entry)) return 0;
    if (this.#get(record.topic, record.partition) !== record.owner) return 0;
    return record.owner.complete(record);
  }

  /** Records started and not completed in this partition. */
  pending(topic: string, partition: number): number {
    return this.#get(topic, partition)?.pending ?? 0;
  }

  totalPending(): number {
    let total = 0;
    for (const byPartition of this.#partitions.values())
      for (const state of byPartition.values()) total += state.pending;
    return total;
  }

  /** Completed records of the partition that no acknowledged commit covers yet. */
  settledUncommitted(topic: string, partition: number): number {
    return this.#get(topic, partition)?.settledUncommitted ?? 0;
  }

  /** The highest contiguous completed offset + 1 of each partition that moved since its last commit. */
  committable(filter?: (topic: string, partition: number) => boolean): CommittableOffset[] {
    const out: CommittableOffset[] = [];
    for (const [topic, byPartition] of this.#partitions) {
      for (const [partition, state] of byPartition) {
        if (filter !== undefined && !filter(topic, partition)) continue;
        const offset = state.committable();
        if (offset !== undefined) out.push({ topic, partition, offset: offset.toString() });
      }
    }
    return out;
  }

  /** Position to commit now, whether or not it moved; undefined before the first completion. */
  position(topic: string, partition: number): string | undefined {
    return this.#get(topic, partition)?.position()?.toString();
  }

  /** Called once the broker acknowledged the commit; never moves backwards. */
  markCommitted(topic: string, partition: number, offset: string): void {
    this.#getOrCreate(topic, partition).markCommitted(BigInt(offset));
  }

  committed(topic: string, partition: number): string | undefined {
    return this.#get(topic, partition)?.committed()?.toString();
  }

  /**
   * Forgets a partition after its revoke: handles of its records become inert, and its settled,
   * uncommitted records are carried over for the next generation.
   */
  forget(topic: string, partition: number): void {
    const state = this.#get(topic, partition);
    if (state === undefined) return;
    this.#partitions.get(topic)?.delete(partition);
    const carried = state.carryOver();
    if (carried.size === 0) return;
    let byPartition = this.#carried.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.#carried.set(topic, byPartition);
    }
    byPartition.set(partition, carried);
  }

  /** Drops what is carried for partitions `keep` rejects: they belong to another member now. */
  retainCarried(keep: (topic: string, partition: number) => boolean): void {
    for (const [topic, byPartition] of this.#carried) {
      for (const partition of [...byPartition.keys()])
        if (!keep(topic, partition)) byPartition.delete(partition);
      if (byPartition.size === 0) this.#carried.delete(topic);
    }
  }

  /** Settled records carried over for a partition not currently tracked. */
  carried(topic: string, partition: number): number {
    return this.#carried.get(topic)?.get(partition)?.size ?? 0;
  }

  partitions(): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const [topic, byPartition] of this.#partitions)
      for (const partition of byPartition.keys()) out.push({ topic, partition });
    return out;
  }
}
