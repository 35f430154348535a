import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker, recordFingerprint, type TrackedRecord } from '../../src/kafka/offset-tracker.ts';

/** Starts offsets of one partition and returns their handles by offset. */
function startAll(tracker: OffsetTracker, offsets: readonly (number | string)[], partition = 0, topic = 't') {
  const handles = new Map<string, TrackedRecord>();
  for (const offset of offsets) {
    const started = tracker.start(topic, partition, String(offset), `content-${offset}`);
    if (started.kind === 'new') handles.set(String(offset), started.record);
  }
  return handles;
}

describe('OffsetTracker', () => {
  it('commits nothing before the first completion', () => {
    const tracker = new OffsetTracker();
    tracker.start('t', 0, '10');
    expect(tracker.committable()).toEqual([]);
    expect(tracker.position('t', 0)).toBeUndefined();
  });

  it('does not pass an unfinished record when later ones finish first', () => {
    const tracker = new OffsetTracker();
    const records = startAll(tracker, [0, 1, 2, 3]);
    expect(tracker.complete(records.get('1')!)).toBe(0);
    expect(tracker.complete(records.get('3')!)).toBe(0);
    expect(tracker.committable()).toEqual([]);
    // 0 completes the prefix 0..1: two records became committable.
    expect(tracker.complete(records.get('0')!)).toBe(2);
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    expect(tracker.complete(records.get('2')!)).toBe(2);
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '4' }]);
  });

  it('treats holes in the log (compaction, transaction markers) as contiguous', () => {
    const tracker = new OffsetTracker();
    const records = startAll(tracker, [5, 9]);
    tracker.complete(records.get('9')!);
    tracker.complete(records.get('5')!);
    expect(tracker.position('t', 0)).toBe('10');
  });

  it('reports a partition again only after its position moves past the last commit', () => {
    const tracker = new OffsetTracker();
    tracker.complete(startAll(tracker, [0], 1).get('0')!);
    tracker.markCommitted('t', 1, '1');
    expect(tracker.committable()).toEqual([]);
    tracker.complete(startAll(tracker, [1], 1).get('1')!);
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 1, offset: '2' }]);
  });

  it('refuses to start an offset twice (a re-fetch must not dispatch a record again)', () => {
    const tracker = new OffsetTracker();
    expect(tracker.start('t', 0, '3').kind).toBe('new');
    expect(tracker.start('t', 0, '3').kind).toBe('started');
    expect(tracker.start('t', 0, '2').kind).toBe('started');
    expect(tracker.pending('t', 0)).toBe(1);
  });

  it('keeps partitions and topics apart, and handles offsets past 2^53', () => {
    const tracker = new OffsetTracker();
    const big = '9007199254740993';
    const a = startAll(tracker, [big], 0, 'a');
    startAll(tracker, [1], 0, 'b');
    tracker.complete(a.get(big)!);
    expect(tracker.committable()).toEqual([{ topic: 'a', partition: 0, offset: '9007199254740994' }]);
    expect(tracker.totalPending()).toBe(1);
    tracker.forget('b', 0);
    expect(tracker.totalPending()).toBe(0);
  });

  it('ignores completing a record twice, or one of a partition forgotten since it started', () => {
    const tracker = new OffsetTracker();
    const record = startAll(tracker, [0]).get('0')!;
    expect(tracker.complete(record)).toBe(1);
    expect(tracker.complete(record)).toBe(0);
    const stale = startAll(tracker, [1]).get('1')!;
    tracker.forget('t', 0);
    // A new generation starts the same offset again; the old handle must not settle it.
    const fresh = tracker.start('t', 0, '1', 'content-1');
    expect(fresh.kind).toBe('new');
    expect(tracker.complete(stale)).toBe(0);
    expect(tracker.pending('t', 0)).toBe(1);
    expect(tracker.position('t', 0)).toBeUndefined();
  });

  it('counts settled records until an acknowledged commit covers them', () => {
    const tracker = new OffsetTracker();
    const records = startAll(tracker, [0, 1, 2, 3]);
    tracker.complete(records.get('1')!);
    tracker.complete(records.get('2')!);
    // Above the unsettled 0: settled, not committable, still waiting.
    expect(tracker.settledUncommitted('t', 0)).toBe(2);
    tracker.complete(records.get('0')!);
    expect(tracker.settledUncommitted('t', 0)).toBe(3);
    tracker.markCommitted('t', 0, '2');
    expect(tracker.settledUncommitted('t', 0)).toBe(1);
    tracker.markCommitted('t', 0, '3');
    expect(tracker.settledUncommitted('t', 0)).toBe(0);
  });

  it('after a revoke, registers the same records refetched as settled instead of starting them', () => {
    const tracker = new OffsetTracker();
    const records = startAll(tracker, [0, 1, 2, 3]);
    tracker.complete(records.get('0')!);
    tracker.complete(records.get('2')!);
    tracker.markCommitted('t', 0, '1');
    // 1 and 3 unsettled, 2 settled above them: the revoke forgets the partition.
    tracker.forget('t', 0);
    expect(tracker.carried('t', 0)).toBe(1);
    // The next generation fetches from the group's offset, 1.
    expect(tracker.start('t', 0, '1', 'content-1').kind).toBe('new');
    expect(tracker.start('t', 0, '2', 'content-2')).toEqual({ kind: 'settled', committable: 0 });
    expect(tracker.start('t', 0, '3', 'content-3').kind).toBe('new');
    expect(tracker.pending('t', 0)).toBe(2);
  });

  it('a carried offset that now holds another record (offsets reused) is new work, and drops what is carried', () => {
    const tracker = new OffsetTracker();
    const records = startAll(tracker, [0, 1, 2]);
    for (const record of records.values()) tracker.complete(record);
    // The commit was lost: all three are carried over.
    tracker.forget('t', 0);
    expect(tracker.carried('t', 0)).toBe(3);
    // The topic was recreated: offset 0 holds another record, so 1 and 2 cannot be trusted either.
    expect(tracker.start('t', 0, '0', 'another-0').kind).toBe('new');
    expect(tracker.start('t', 0, '1', 'content-1').kind).toBe('new');
    expect(tracker.start('t', 0, '2', 'content-2').kind).toBe('new');
  });

  it('drops carried records for partitions the next assignment does not hold, and those a commit passed', () => {
    const tracker = new OffsetTracker();
    for (const partition of [0, 1]) {
      const record = startAll(tracker, [5], partition).get('5')!;
      tracker.complete(record);
      tracker.forget('t', partition);
    }
    tracker.retainCarried((_topic, partition) => partition === 0);
    expect(tracker.carried('t', 0)).toBe(1);
    expect(tracker.carried('t', 1)).toBe(0);
    // The group's offset moved past it (the revoke's commit did land): nothing left to carry.
    tracker.markCommitted('t', 0, '6');
    expect(tracker.start('t', 0, '5', 'content-5').kind).toBe('started');
    expect(tracker.settledUncommitted('t', 0)).toBe(0);
  });

  it('fingerprints differ when the timestamp, the key or the value differ', () => {
    const base = { timestamp: '1', key: Buffer.from('k'), value: Buffer.from('v') };
    const same = recordFingerprint({ ...base });
    expect(recordFingerprint(base)).toBe(same);
    expect(recordFingerprint({ ...base, timestamp: '2' })).not.toBe(same);
    expect(recordFingerprint({ ...base, key: Buffer.from('K') })).not.toBe(same);
    expect(recordFingerprint({ ...base, value: Buffer.from('w') })).not.toBe(same);
    expect(recordFingerprint({ ...base, value: null })).not.toBe(same);
  });

  it('property: the position is always the oldest unfinished started offset, never beyond', () => {
    fc.assert(
      fc.property(
        // Ascending offsets with random gaps, and a random completion order.
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 200 }).chain((gaps) => {
          const offsets: number[] = [];
          let at = 0;
          for (const gap of gaps) {
            at += gap;
            offsets.push(at);
          }
          return fc.tuple(fc.constant(offsets), fc.shuffledSubarray(offsets, { minLength: offsets.length }));
        }),
        fc.integer({ min: 0, max: 20 }),
        ([offsets, order], commitEvery) => {
          const tracker = new OffsetTracker();
          const records = startAll(tracker, offsets);
          const done = new Set<number>();
          let lastCommitted = -1n;
          order.forEach((offset, index) => {
            tracker.complete(records.get(String(offset))!);
            done.add(offset);
            // Exactly one past the last record of the completed prefix; never past an unfinished one.
            const firstOpen = offsets.findIndex((candidate) => !done.has(candidate));
            const prefixEnd = firstOpen === -1 ? offsets.length : firstOpen;
            const position = tracker.position('t', 0);
            if (prefixEnd === 0) {
              expect(position).toBeUndefined();
            } else {
              expect(position).toBe(String(offsets[prefixEnd - 1]! + 1));
              if (firstOpen !== -1)
                expect(BigInt(position!)).toBeLessThanOrEqual(BigInt(offsets[firstOpen]!));
            }
            if (commitEvery > 0 && index % commitEvery === 0) {
              for (const entry of tracker.committable()) {
                expect(BigInt(entry.offset)).toBeGreaterThan(lastCommitted);
                lastCommitted = BigInt(entry.offset);
                tracker.markCommitted(entry.topic, entry.partition, entry.offset);
              }
            }
          });
          expect(tracker.position('t', 0)).toBe(String(offsets.at(-1)! + 1));
          expect(tracker.pending('t', 0)).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: interleaved starts and completions never commit an unfinished record', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 400 }), fc.integer(), (steps, seed) => {
        const tracker = new OffsetTracker();
        const records = new Map<number, TrackedRecord>();
        let next = 0;
        const open: number[] = [];
        let state = seed;
        for (const startNew of steps) {
          if (startNew || open.length === 0) {
            const started = tracker.start('t', 0, String(next));
            if (started.kind === 'new') records.set(next, started.record);
            open.push(next);
            next += 1;
          } else {
            state = (state * 1103515245 + 12345) & 0x7fffffff;
            const [picked] = open.splice(state % open.length, 1);
            tracker.complete(records.get(picked!)!);
          }
          const position = tracker.position('t', 0);
          const lowestOpen = open.length === 0 ? next : Math.min(...open);
          if (position !== undefined) expect(Number(position)).toBeLessThanOrEqual(lowestOpen);
          expect(tracker.pending('t', 0)).toBe(open.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});
