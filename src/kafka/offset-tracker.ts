/**
 * Which offset may be committed, per partition, when records finish out of order.
 *
 * Records of one partition are started in fetch order (ascending offsets, possibly with gaps:
 * compaction and transaction markers leave holes) and complete in any order. The committable
 * position is the offset of the oldest record not yet completed, or one past the newest started
 * record when all are complete. Contiguity is judged over the records started, not over
 * offset + 1, because a hole in the log is not a record anyone is waiting for.
 *
 * Pure: no Kafka, no time. Offsets are strings at the edges (as kafkajs hands them out) and
 * bigint inside, since Kafka offsets are int64.
 */

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface CommittableOffset extends TopicPartition {
  /** The next offset to consume: the one to commit. */
  readonly offset: string;
}

interface Entry {
  readonly offset: bigint;
  done: boolean;
}

class PartitionOffsets {
  /** Started records, oldest first; `head` skips the completed prefix without shifting. */
  #entries: Entry[] = [];
  #head = 0;
  readonly #byOffset = new Map<bigint, Entry>();
  #highestStarted: bigint | undefined;
  /** Position every started record below has completed; undefined until one completes. */
  #position: bigint | undefined;
  #committed: bigint | undefined;

  start(offset: bigint): boolean {
    if (this.#highestStarted !== undefined && offset <= this.#highestStarted) return false;
    if (this.#committed !== undefined && offset < this.#committed) return false;
    const entry: Entry = { offset, done: false };
    this.#entries.push(entry);
    this.#byOffset.set(offset, entry);
    this.#highestStarted = offset;
    return true;
  }

  complete(offset: bigint): boolean {
    const entry = this.#byOffset.get(offset);
    if (entry === undefined || entry.done) return false;
    entry.done = true;
    this.#byOffset.delete(offset);
    let advanced = false;
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.done) {
      this.#position = this.#entries[this.#head]!.offset + 1n;
      this.#head += 1;
      advanced = true;
    }
    // Compact once the dead prefix dominates, so memory follows the records still pending.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return advanced;
  }

  get pending(): number {
    return this.#byOffset.size;
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
    if (this.#committed === undefined || offset > this.#committed) this.#committed = offset;
  }

  committed(): bigint | undefined {
    return this.#committed;
  }
}

export class OffsetTracker {
  readonly #partitions = new Map<string, Map<number, PartitionOffsets>>();

  #get(topic: string, partition: number, create: boolean): PartitionOffsets | undefined {
    let byPartition = this.#partitions.get(topic);
    if (byPartition === undefined) {
      if (!create) return undefined;
      byPartition = new Map();
      this.#partitions.set(topic, byPartition);
    }
    let state = byPartition.get(partition);
    if (state === undefined && create) {
      state = new PartitionOffsets();
      byPartition.set(partition, state);
    }
    return state;
  }

  /**
   * Registers a fetched record. Returns false for an offset at or below one already started or
   * below the committed position (a re-fetch after a seek or rejoin): the caller must not
   * dispatch it again, since it is either in flight or done.
   */
  start(topic: string, partition: number, offset: string): boolean {
    return this.#get(topic, partition, true)!.start(BigInt(offset));
  }

  /** Marks a started record finished (delivered, duplicate or dead-lettered). True if the position moved. */
  complete(topic: string, partition: number, offset: string): boolean {
    return this.#get(topic, partition, false)?.complete(BigInt(offset)) ?? false;
  }

  /** Records started and not completed in this partition. */
  pending(topic: string, partition: number): number {
    return this.#get(topic, partition, false)?.pending ?? 0;
  }

  totalPending(): number {
    let total = 0;
    for (const byPartition of this.#partitions.values())
      for (const state of byPartition.values()) total += state.pending;
    return total;
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
    return this.#get(topic, partition, false)?.position()?.toString();
  }

  /** Called once the broker acknowledged the commit; never moves backwards. */
  markCommitted(topic: string, partition: number, offset: string): void {
    this.#get(topic, partition, true)!.markCommitted(BigInt(offset));
  }

  committed(topic: string, partition: number): string | undefined {
    return this.#get(topic, partition, false)?.committed()?.toString();
  }

  /** Forgets a partition, after its revoke has been handled. */
  forget(topic: string, partition: number): void {
    this.#partitions.get(topic)?.delete(partition);
  }

  partitions(): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const [topic, byPartition] of this.#partitions)
      for (const partition of byPartition.keys()) out.push({ topic, partition });
    return out;
  }
}
