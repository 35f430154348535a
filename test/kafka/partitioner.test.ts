import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { javaCompatiblePartitioner, murmur2, partitionOfKey } from '../../src/kafka/partitioner.ts';

const metadata = (count: number, leaderless: readonly number[] = []) =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));

describe('the producers partitioner', () => {
  it("puts every key where kafkajs' default (Java-compatible) partitioner puts it", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const ours = javaCompatiblePartitioner();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)),
        ),
        fc.integer({ min: 1, max: 64 }),
        (key, partitions) => {
          const args = { topic: 't', partitionMetadata: metadata(partitions), message: { key, value: null } };
          expect(ours(args)).toBe(kafkajs(args));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("matches Kafka's own murmur2 on known keys", () => {
    // Values from org.apache.kafka.common.utils.Utils.murmur2 (its UtilsTest).
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107);
    expect(partitionOfKey('evt-1', 3)).toBe(partitionOfKey(Buffer.from('evt-1'), 3));
  });

  it('keeps an explicit partition, and spreads records without a key over the partitions that have a leader', () => {
    const partition = javaCompatiblePartitioner();
    expect(
      partition({
        topic: 't',
        partitionMetadata: metadata(4),
        message: { key: 'k', value: null, partition: 2 },
      }),
    ).toBe(2);
    const chosen = new Set<number>();
    for (let i = 0; i < 12; i++)
      chosen.add(partition({ topic: 't', partitionMetadata: metadata(4, [1]), message: { value: null } }));
    expect([...chosen].sort()).toEqual([0, 2, 3]);
    expect(
      partition({ topic: 'u', partitionMetadata: metadata(2, [0, 1]), message: { value: null } }),
    ).toBeLessThan(2);
  });
});
