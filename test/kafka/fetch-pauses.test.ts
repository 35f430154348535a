import { describe, expect, it } from 'vitest';
import { RuntimeEvents } from '../../src/kafka/events.ts';
import { FetchPauses } from '../../src/kafka/fetch-pauses.ts';
import { PartitionBuffer } from '../../src/kafka/partition-buffer.ts';

function setup() {
  const calls: string[] = [];
  const consumer = {
    pause: (topics: { topic: string; partitions?: number[] }[]) =>
      void calls.push(
        `pause ${topics.map((entry) => `${entry.topic}${entry.partitions ? `[${entry.partitions.join(',')}]` : ''}`).join(' ')}`,
      ),
    resume: (topics: { topic: string; partitions?: number[] }[]) =>
      void calls.push(
        `resume ${topics.map((entry) => `${entry.topic}${entry.partitions ? `[${entry.partitions.join(',')}]` : ''}`).join(' ')}`,
      ),
  };
  const buffer = new PartitionBuffer<string>(4);
  buffer.assign([
    { topic: 't', partition: 0 },
    { topic: 't', partition: 1 },
  ]);
  const events = new RuntimeEvents();
  const seen: string[] = [];
  events.on('paused', (event) => seen.push(`paused ${event.reason} ${event.partitions}`));
  events.on('resumed', (event) => seen.push(`resumed ${event.reason}`));
  const pauses = new FetchPauses({ topics: ['t'], consumer, lanes: buffer, clock: { now: () => 0 }, events });
  pauses.activate();
  pauses.assigned(2);
  calls.length = 0;
  return { calls, buffer, pauses, seen };
}

describe('FetchPauses', () => {
  it('pauses a full partition alone, and resumes it once drained', () => {
    const { calls, buffer, pauses, seen } = setup();
    const lane = buffer.lane('t', 1);
    lane.push('a');
    lane.push('b');
    pauses.checkBackpressure();
    expect(calls).toEqual(['pause t[1]']);
    expect(pauses.pausedPartitions()).toBe(1);
    buffer.take(() => true);
    buffer.finish(lane);
    buffer.take(() => true);
    buffer.finish(lane);
    pauses.checkBackpressure();
    expect(calls).toEqual(['pause t[1]', 'resume t[1]']);
    expect(seen).toEqual(['paused backpressure 1', 'resumed backpressure']);
  });

  it('overlapping whole-topic reasons resume only when the last ends, and re-pause the full partitions', () => {
    const { calls, buffer, pauses, seen } = setup();
    pauses.set('auth-halt', true);
    pauses.set('revoke', true);
    const lane = buffer.lane('t', 0);
    lane.push('a');
    lane.push('b');
    // Under a whole-topic pause a partition resume would lift it: nothing is sent to kafkajs.
    pauses.checkBackpressure();
    expect(calls).toEqual(['pause t']);
    expect(pauses.pausedPartitions()).toBe(2);
    pauses.set('revoke', false);
    expect(calls).toEqual(['pause t']);
    pauses.set('auth-halt', false);
    expect(calls).toEqual(['pause t', 'resume t', 'pause t[0]']);
    expect(seen).toEqual([
      'paused auth-halt 2',
      'paused revoke 2',
      'paused backpressure 1',
      'resumed auth-halt',
    ]);
  });

  it('records a pause made before kafkajs runs and applies it on activation', () => {
    const calls: string[] = [];
    const pauses = new FetchPauses({
      topics: ['t'],
      consumer: { pause: () => void calls.push('pause'), resume: () => void calls.push('resume') },
      lanes: new PartitionBuffer<string>(4),
      clock: { now: () => 0 },
      events: new RuntimeEvents(),
    });
    pauses.set('quota-exhausted', true);
    expect(calls).toEqual([]);
    pauses.activate();
    expect(calls).toEqual(['pause']);
    expect(pauses.pausedPartitions()).toBe(0);
  });

  it('while kafkajs refuses pause (its crashed consumer restarting) nothing throws; the next assignment applies the state', () => {
    const calls: string[] = [];
    let initialized = true;
    const refuse = (call: string) => () => {
      if (!initialized)
        throw new Error('Consumer group was not initialized, consumer#run must be called first');
      calls.push(call);
    };
    const pauses = new FetchPauses({
      topics: ['t'],
      consumer: { pause: refuse('pause'), resume: refuse('resume') },
      lanes: new PartitionBuffer<string>(4),
      clock: { now: () => 0 },
      events: new RuntimeEvents(),
    });
    pauses.activate();
    initialized = false;
    expect(() => pauses.set('revoke', true)).not.toThrow();
    pauses.set('revoke', false);
    pauses.set('auth-halt', true);
    expect(calls).toEqual([]);
    initialized = true;
    pauses.assigned(1);
    expect(calls).toEqual(['pause']);
  });
});
