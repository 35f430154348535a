import type { Consumer, ConsumerCommitOffsetsEvent } from 'kafkajs';
import type { RuntimeEvents } from './events.ts';
import type { OffsetTracker } from './offset-tracker.ts';
import { laneKey } from './partition-buffer.ts';

export interface OffsetCommitsOptions {
  readonly consumer: Pick<Consumer, 'commitOffsets'>;
  readonly tracker: OffsetTracker;
  readonly events: RuntimeEvents;
  /** Whether this member may commit the partition (the latest assignment gave it to us). */
  readonly owns: (topic: string, partition: number) => boolean;
  /** After a commit the broker acknowledged (at least in part): lanes waiting for it may start again. */
  readonly onCommitted: () => void;
}

/**
 * The runtime's commits: only what the broker acknowledged counts, and only for partitions still
 * owned. The commit scheduler decides when `commit` runs; `acknowledge` is fed kafkajs'
 * COMMIT_OFFSETS events.
 */
export class OffsetCommits {
  readonly #options: OffsetCommitsOptions;
  /** Set during our commitOffsets call: what the broker acknowledged, per partition. */
  #acknowledged: Map<string, string> | undefined;
  #commits = 0;

  constructor(options: OffsetCommitsOptions) {
    this.#options = options;
  }

  /** Commits that the broker acknowledged, at least in part. */
  get count(): number {
    return this.#commits;
  }

  /** kafkajs' COMMIT_OFFSETS: an OffsetCommit came back without error for every partition in it. */
  acknowledge(payload: ConsumerCommitOffsetsEvent['payload']): void {
    // Only our own commitOffsets calls commit (autoCommit is off); see commit().
    const acknowledged = this.#acknowledged;
    if (acknowledged === undefined) return;
    for (const { topic, partitions } of payload.topics) {
      for (const { partition, offset } of partitions) {
        acknowledged.set(laneKey(topic, Number(partition)), String(offset));
      }
    }
  }

  /** Commits what is committable; resolves true when the broker acknowledged all of it. Never rejects. */
  async commit(): Promise<boolean> {
    const { consumer, tracker, events, owns } = this.#options;
    const offsets = tracker.committable(owns);
    if (offsets.length === 0) return true;
    // kafkajs' commitOffsets resolving proves nothing: while a crashed consumer restarts (and
    // until it has joined with an assignment) the runner is not running and the call returns
    // without sending anything, and an error raised while it stops is swallowed the same way.
    // The broker's answer is observable only through the COMMIT_OFFSETS event, emitted after
    // an OffsetCommit came back without error for every partition in it. Only what it lists
    // is marked committed; the rest stays committable and is tried again.
    const acks = new Map<string, string>();
    this.#acknowledged = acks;
    try {
      await consumer.commitOffsets(
        offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      );
    } catch (error) {
      events.emit('commit-failed', {
        error: error instanceof Error ? error.message : String(error),
        partitions: offsets.length,
      });
      return false;
    } finally {
      this.#acknowledged = undefined;
    }
    const confirmed = offsets.filter(
      (entry) => acks.get(laneKey(entry.topic, entry.partition)) === entry.offset,
    );
    if (confirmed.length < offsets.length) {
      events.emit('commit-failed', {
        error:
          'kafkajs returned without the broker acknowledging the commit (consumer restarting or not in the group)',
        partitions: offsets.length - confirmed.length,
      });
    }
    if (confirmed.length > 0) {
      this.#commits += 1;
      for (const entry of confirmed) {
        tracker.markCommitted(entry.topic, entry.partition, entry.offset);
        events.emit('committed', entry);
      }
      // A lane that waited for this commit may start records again.
      this.#options.onCommitted();
    }
    return confirmed.length === offsets.length;
  }
}
