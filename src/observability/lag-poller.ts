import type { Admin } from 'kafkajs';
import type { Sleep } from '../shared/time.ts';
import type { BridgeMetrics } from './metrics.ts';

/**
 * Consumer lag as the group sees it: the committed offset against the high watermark, polled with
 * the admin client. The committed offset (not the fetch position) is what is safe: a record
 * fetched but not yet delivered is still lag, because a crash would read it again. Every replica
 * polls the whole group, so dashboards take max() across instances, not sum().
 */

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

export interface PartitionOffsets {
  readonly partition: number;
  /** Strings as kafkajs returns them; offsets can exceed 2^53 in theory, lag does not. */
  readonly high: string;
  readonly low: string;
  /** '-1' when the group has committed nothing for the partition. */
  readonly committed: string;
}

/**
 * Without a commit, or with one that retention has already deleted past, the group restarts at
 * the log start: everything retained is outstanding.
 */
export function partitionLag(offsets: PartitionOffsets): number {
  const high = BigInt(offsets.high);
  const low = BigInt(offsets.low);
  const committed = BigInt(offsets.committed);
  const from = committed < 0n || committed < low ? low : committed;
  const lag = high - from;
  return lag < 0n ? 0 : Number(lag);
}

export type LagAdmin = Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>;

export async function fetchGroupLag(admin: LagAdmin, groupId: string, topics: readonly string[]) {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  const result: PartitionLag[] = [];
  for (const topic of topics) {
    const watermarks = await admin.fetchTopicOffsets(topic);
    const byPartition = new Map(
      (committed.find((entry) => entry.topic === topic)?.partitions ?? []).map((p) => [
        p.partition,
        p.offset,
      ]),
    );
    for (const mark of watermarks) {
      result.push({
        topic,
        partition: mark.partition,
        lag: partitionLag({
          partition: mark.partition,
          high: mark.high,
          low: mark.low,
          committed: byPartition.get(mark.partition) ?? '-1',
        }),
      });
    }
  }
  return result;
}

export interface LagPollerOptions {
  readonly admin: LagAdmin;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly metrics: BridgeMetrics;
  readonly intervalMs: number;
  readonly sleep: Sleep;
  /** Told about failed polls; the gauges keep their last values meanwhile. */
  readonly onError?: (error: unknown) => void;
  /** Told after each successful poll. */
  readonly onSuccess?: () => void;
}

export interface LagPoller {
  /** Resolves after one poll; used at start-up and by tests that cannot wait an interval. */
  pollOnce(): Promise<void>;
  stop(): Promise<void>;
}

export function startLagPoller(options: LagPollerOptions): LagPoller {
  const { metrics } = options;
  const stopping = new AbortController();
  const pollOnce = async () => {
    try {
      for (const entry of await fetchGroupLag(options.admin, options.groupId, options.topics)) {
        metrics.consumerLag.set({ topic: entry.topic, partition: String(entry.partition) }, entry.lag);
      }
      options.onSuccess?.();
    } catch (error) {
      metrics.lagPollErrors.inc();
      options.onError?.(error);
    }
  };
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      await pollOnce();
      try {
        await options.sleep(options.intervalMs, stopping.signal);
      } catch {
        return;
      }
    }
  })();
  return {
    pollOnce,
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
