import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

/**
 * The partitioner of the bridge's producers (dead letters, receipts, replays): the same choice as
 * kafkajs' DefaultPartitioner and Java's, so a record keyed by eventId lands where any Kafka client
 * would put it (Kafka Streams and ksqlDB tables over the receipts topic rely on that, and so does
 * `gong-bridge receipts --event-id`, which reads only the key's partition):
 *
 *  - an explicit partition is kept;
 *  - a key: murmur2 of its bytes, made positive, modulo the partition count;
 *  - no key: round-robin over the partitions that have a leader.
 *
 * Why not kafkajs' own: it computes murmur2 with 64-bit Long objects, several allocations per four
 * bytes of key, about 3 µs a key here, the largest single cost of a receipt after the produce
 * request itself. murmur2 needs only the low 32 bits, so 32-bit integer arithmetic (Math.imul)
 * gives the same hash; a property test holds the two to the same partition on random keys.
 */

const seed = 0x9747b28c;
const m = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = seed ^ length;
  const whole = length - (length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length % 4;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const toPositive = (value: number): number => value & 0x7fffffff;

/** The partition a key goes to among `partitions` (kafkajs' and Java's default partitioner). */
export function partitionOfKey(key: Buffer | string, partitions: number): number {
  return toPositive(murmur2(typeof key === 'string' ? Buffer.from(key) : key)) % partitions;
}

export const javaCompatiblePartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined)
      return partitionOfKey(message.key, partitionMetadata.length);
    // Round-robin from a random start, as kafkajs does, over the partitions that have a leader.
    const next = (counters.get(topic) ?? Math.floor(Math.random() * 0x7fffffff)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((partition) => partition.leader >= 0);
    if (available.length > 0) return available[toPositive(next) % available.length]!.partitionId;
    return toPositive(next) % partitionMetadata.length;
  };
};
