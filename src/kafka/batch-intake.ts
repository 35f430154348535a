import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { SourceRecord } from './dlq.ts';
import type { RuntimeEvents } from './events.ts';
import type { GroupAssignment } from './group-assignment.ts';
import { recordFingerprint, type OffsetTracker, type TrackedRecord } from './offset-tracker.ts';
import type { Lane, PartitionBuffer } from './partition-buffer.ts';
import type { Work } from './record-dispatch.ts';
import type { RuntimeCounts } from './record-handling.ts';

export interface BatchIntakeOptions {
  readonly assignment: GroupAssignment;
  readonly buffer: PartitionBuffer<Work>;
  readonly tracker: OffsetTracker;
  readonly events: RuntimeEvents;
  readonly counts: RuntimeCounts;
  readonly shuttingDown: () => boolean;
  /** `count` more records became committable (the commit scheduler's settled). */
  readonly settled: (count: number) => void;
  /** Starts queued records (the dispatch's pump). */
  readonly pump: () => void;
  readonly checkBackpressure: () => void;
}

/** kafkajs' own test for "the group is rebalancing" (errors.js isRebalancing). */
const rebalancingErrors = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
]);

/**
 * Intake: kafkajs' eachBatch. It returns as soon as the batch's records are queued in their lane
 * (resolveOffset per accepted record, which only moves kafkajs' fetch position); beyond the
 * lane's share of the buffer the rest stays unresolved, and kafkajs fetches it again.
 */
export function createBatchIntake(options: BatchIntakeOptions): (payload: EachBatchPayload) => Promise<void> {
  const { assignment, buffer, tracker, events, counts } = options;

  function accept(lane: Lane<Work>, tracked: TrackedRecord, message: KafkaMessage): void {
    const record: SourceRecord = {
      topic: lane.topic,
      partition: lane.partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key ?? null,
      value: message.value ?? null,
      headers: message.headers,
    };
    lane.push({ record, tracked });
    counts.consumed += 1;
    events.emit('consumed', {
      topic: lane.topic,
      partition: lane.partition,
      offset: message.offset,
      bytes: message.value?.length ?? 0,
    });
  }

  return async function eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    // A new generation's batch may carry records the revoke is still settling; let it finish.
    const revoking = assignment.revoking;
    if (revoking !== undefined) await revoking;
    // Learn of a rebalance here, before kafkajs does between batches: then the revoke (drain,
    // commit) completes before kafkajs sends our JoinGroup, i.e. before the partitions are
    // released. kafkajs rethrows the error and rejoins once we rethrow it. (A rebalance noticed
    // by kafkajs' own heartbeat is handled from the REBALANCING event instead, alongside the
    // rejoin.)
    try {
      await heartbeat();
    } catch (error) {
      if (rebalancingErrors.has((error as { type?: string }).type ?? ''))
        await assignment.revoke('rebalance');
      throw error;
    }
    // A batch of an assignment revoked meanwhile: kafkajs fetches it again after the rejoin.
    if (assignment.revokedSinceJoin || options.shuttingDown()) return;
    const { topic, partition } = batch;
    assignment.fetchedFrom(topic, partition);
    const lane = buffer.lane(topic, partition);
    let room = buffer.room(lane);
    let complete = true;
    for (const message of batch.messages) {
      // Beyond the lane's share the rest stays unresolved: kafkajs fetches it again once the
      // partition resumes.
      if (room <= 0 || !isRunning() || isStale()) {
        complete = false;
        break;
      }
      const started = tracker.start(topic, partition, message.offset, recordFingerprint(message));
      if (started.kind === 'new') {
        accept(lane, started.record, message);
        room -= 1;
      } else if (started.kind === 'settled') {
        // Settled by this process before the rejoin (a repeat below the group's offset).
        options.settled(started.committable);
      }
      resolveOffset(message.offset);
    }
    // A batch ending in transaction markers: count the markers as settled so the committed
    // offset can reach the end of the log.
    const last = batch.messages.at(-1);
    if (complete && last !== undefined && BigInt(batch.lastOffset()) > BigInt(last.offset)) {
      const marker = tracker.start(topic, partition, batch.lastOffset());
      if (marker.kind === 'new') options.settled(tracker.complete(marker.record));
      resolveOffset(batch.lastOffset());
    }
    options.pump();
    options.checkBackpressure();
  };
}
