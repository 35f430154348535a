import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../src/kafka/offset-tracker.ts';

describe('OffsetTracker', () => {
  it('commits nothing before the first completion', () => {
    const tracker = new OffsetTracker();
    tracker.start('t', 0, '10');
    expect(tracker.committable()).toEqual([]);
    expect(tracker.position('t', 0)).toBeUndefined();
  });

  it('does not pass an unfinished record when later ones finish first', () => {
    const tracker = new OffsetTracker();
    for (const offset of ['0', '1', '2', '3']) tracker.start('t', 0, offset);
    tracker.complete('t', 0, '1');
    tracker.complete('t', 0, '3');
    expect(tracker.committable()).toEqual([]);
    tracker.complete('t', 0, '0');
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    tracker.complete('t', 0, '2');
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '4' }]);
  });

  it('treats holes in the log (compaction, transaction markers) as contiguous', () => {
    const tracker = new OffsetTracker();
    tracker.start('t', 0, '5');
    tracker.start('t', 0, '9');
    tracker.complete('t', 0, '9');
    tracker.complete('t', 0, '5');
    expect(tracker.position('t', 0)).toBe('10');
  });

  it('reports a partition again only after its position moves past the last commit', () => {
    const tracker = new OffsetTracker();
    tracker.start('t', 1, '0');
    tracker.complete('t', 1, '0');
    tracker.markCommitted('t', 1, '1');
    expect(tracker.committable()).toEqual([]);
    tracker.start('t', 1, '1');
    tracker.complete('t', 1, '1');
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 1, offset: '2' }]);
  });

  it('refuses to start an offset twice (a re-fetch must not dispatch a record again)', () => {
    const tracker = new OffsetTracker();
    expect(tracker.start('t', 0, '3')).toBe(true);
    expect(tracker.start('t', 0, '3')).toBe(false);
    expect(tracker.start('t', 0, '2')).toBe(false);
    expect(tracker.pending('t', 0)).toBe(1);
  });

  it('keeps partitions and topics apart, and handles offsets past 2^53', () => {
    const tracker = new OffsetTracker();
    const big = '9007199254740993';
    tracker.start('a', 0, big);
    tracker.start('b', 0, '1');
    tracker.complete('a', 0, big);
    expect(tracker.committable()).toEqual([{ topic: 'a', partition: 0, offset: '9007199254740994' }]);
    expect(tracker.totalPending()).toBe(1);
    tracker.forget('b', 0);
    expect(tracker.totalPending()).toBe(0);
  });

  it('ignores completing an unknown or already completed offset', () => {
    const tracker = new OffsetTracker();
    tracker.start('t', 0, '0');
    expect(tracker.complete('t', 0, '7')).toBe(false);
    expect(tracker.complete('t', 0, '0')).toBe(true);
    expect(tracker.complete('t', 0, '0')).toBe(false);
    expect(tracker.complete('x', 3, '0')).toBe(false);
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
          for (const offset of offsets) tracker.start('t', 0, String(offset));
          const done = new Set<number>();
          let lastCommitted = -1n;
          order.forEach((offset, index) => {
            tracker.complete('t', 0, String(offset));
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
        let next = 0;
        const open: number[] = [];
        let state = seed;
        for (const startNew of steps) {
          if (startNew || open.length === 0) {
            tracker.start('t', 0, String(next));
            open.push(next);
            next += 1;
          } else {
            state = (state * 1103515245 + 12345) & 0x7fffffff;
            const [picked] = open.splice(state % open.length, 1);
            tracker.complete('t', 0, String(picked));
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
