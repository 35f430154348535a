import { describe, expect, it } from 'vitest';
import { PartitionBuffer } from '../../src/kafka/partition-buffer.ts';

const tp = (partition: number) => ({ topic: 't', partition });

describe('PartitionBuffer', () => {
  it('gives each assigned partition an equal share of MAX_BUFFERED, at least one record', () => {
    const buffer = new PartitionBuffer<string>(10);
    buffer.assign([tp(0), tp(1), tp(2)]);
    expect(buffer.share()).toBe(3);
    buffer.assign([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(tp));
    expect(buffer.share()).toBe(1);
  });

  it('lets a lane fill its share and pauses it, then resumes it at half the share', () => {
    const buffer = new PartitionBuffer<string>(8);
    buffer.assign([tp(0), tp(1)]);
    const lane = buffer.lane('t', 0);
    expect(buffer.room(lane)).toBe(4);
    for (const item of ['a', 'b', 'c', 'd']) lane.push(item);
    expect(buffer.room(lane)).toBe(0);
    expect(buffer.backpressure()).toEqual({ pause: [lane], resume: [] });
    expect(buffer.backpressure()).toEqual({ pause: [], resume: [] });
    buffer.take(() => true);
    buffer.finish(lane);
    expect(buffer.backpressure().resume).toEqual([]);
    buffer.take(() => true);
    buffer.finish(lane);
    expect(buffer.backpressure()).toEqual({ pause: [], resume: [lane] });
    expect(buffer.fullLanes()).toEqual([]);
  });

  it('takes records from the lanes in turn, skipping a lane that may not start', () => {
    const buffer = new PartitionBuffer<string>(100);
    buffer.assign([tp(0), tp(1), tp(2)]);
    for (const item of ['a0', 'b0', 'c0']) buffer.lane('t', 0).push(item);
    for (const item of ['a1', 'b1']) buffer.lane('t', 1).push(item);
    buffer.lane('t', 2).push('a2');
    const order: string[] = [];
    for (let next = buffer.take(() => true); next !== undefined; next = buffer.take(() => true)) {
      order.push(next.item);
    }
    expect(order).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'c0']);
    for (const item of ['d0', 'e0']) buffer.lane('t', 0).push(item);
    buffer.lane('t', 1).push('c1');
    expect(buffer.take((lane) => lane.partition !== 0)?.item).toBe('c1');
    expect(buffer.take((lane) => lane.partition !== 0)).toBeUndefined();
    expect(buffer.queued()).toBe(2);
  });

  it('revoking aborts the lanes at once and drops their queued records', () => {
    const buffer = new PartitionBuffer<string>(10);
    buffer.assign([tp(0), tp(1)]);
    const lane = buffer.lane('t', 0);
    lane.push('a');
    lane.push('b');
    buffer.take(() => true);
    expect(buffer.revokeAll('rebalance')).toBe(1);
    expect(lane.signal.aborted).toBe(true);
    expect(buffer.room(lane)).toBe(0);
    expect(buffer.queued()).toBe(0);
    // The next assignment has lanes of its own.
    buffer.assign([tp(0)]);
    expect(buffer.lane('t', 0)).not.toBe(lane);
    expect(buffer.lane('t', 0).signal.aborted).toBe(false);
  });

  it('a new assignment revokes only the lanes of partitions it no longer holds', () => {
    const buffer = new PartitionBuffer<string>(10);
    buffer.assign([tp(0), tp(1)]);
    const kept = buffer.lane('t', 0);
    const lost = buffer.lane('t', 1);
    lost.push('x');
    expect(buffer.assign([tp(0), tp(2)])).toBe(1);
    expect(lost.signal.aborted).toBe(true);
    expect(buffer.lane('t', 0)).toBe(kept);
    expect(kept.signal.aborted).toBe(false);
  });
});
