import type { Consumer, EachBatchPayload } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../../src/delivery/engine.ts';
import { createDeliveryEvents } from '../../src/delivery/events.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { BridgeError } from '../../src/errors.ts';
import type { RecordPreparer } from '../../src/decode/prepare.ts';
import type { DeadLetterReason, DlqWriter, SourceRecord } from '../../src/kafka/dlq.ts';
import { HaltState } from '../../src/kafka/halt-state.ts';
import { createRuntime, type RuntimeOptions } from '../../src/kafka/runtime.ts';
import type { Settlement } from '../../src/receipts/receipt.ts';

/**
 * The runtime with plain stubs for kafkajs, the preparer, the engine and the DLQ: what reaches the
 * consumer (pause, resume, commits) and the DLQ is asserted, not which private function ran.
 */

type Listener = (event: { payload: never }) => void;

function fakeConsumer() {
  const listeners = new Map<string, Listener[]>();
  const commits: { topic: string; partition: number; offset: string }[][] = [];
  /** What the broker holds: only commits it acknowledged. */
  const broker = new Map<string, string>();
  const calls: string[] = [];
  /** Arguments of every pause and resume, in order. */
  const pauses: { call: 'pause' | 'resume'; topics: { topic: string; partitions?: number[] }[] }[] = [];
  const resolved: string[] = [];
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    events: {
      REBALANCING: 'rebalancing',
      GROUP_JOIN: 'group_join',
      CRASH: 'crash',
      COMMIT_OFFSETS: 'commit_offsets',
    },
    on(name: string, listener: Listener) {
      listeners.set(name, [...(listeners.get(name) ?? []), listener]);
      return () => {};
    },
    connect: async () => void calls.push('connect'),
    subscribe: async () => void calls.push('subscribe'),
    run: async (config: { eachBatch: typeof eachBatch }) => {
      eachBatch = config.eachBatch;
      calls.push('run');
    },
    // Like kafkajs, pause and resume throw while a crashed consumer restarts.
    pause: (topics: { topic: string; partitions?: number[] }[]) => {
      if (!fake.initialized) throw new Error('Consumer group was not initialized');
      calls.push('pause');
      pauses.push({ call: 'pause', topics });
    },
    resume: (topics: { topic: string; partitions?: number[] }[]) => {
      if (!fake.initialized) throw new Error('Consumer group was not initialized');
      calls.push('resume');
      pauses.push({ call: 'resume', topics });
    },
    // Like kafkajs: COMMIT_OFFSETS once the broker acknowledged; while the consumer restarts
    // (`fake.inGroup` false) the call resolves without committing anything.
    commitOffsets: async (offsets: { topic: string; partition: number; offset: string }[]) => {
      commits.push(offsets);
      if (!fake.inGroup) return;
      for (const { topic, partition, offset } of offsets) broker.set(`${topic}/${partition}`, offset);
      const topics = [...new Set(offsets.map((entry) => entry.topic))].map((topic) => ({
        topic,
        partitions: offsets.filter((entry) => entry.topic === topic),
      }));
      fake.emit('commit_offsets', { topics });
    },
    disconnect: async () => void calls.push('disconnect'),
  };
  const fake = {
    consumer: consumer as unknown as Consumer,
    commits,
    broker,
    calls,
    pauses,
    resolved,
    inGroup: true,
    initialized: true,
    emit(name: string, payload: unknown) {
      for (const listener of listeners.get(name) ?? []) listener({ payload } as never);
    },
    /** Feeds one batch of JSON "records" as kafkajs would. */
    heartbeat: async () => {},
    async feed(topic: string, partition: number, values: (string | null)[], firstOffset = 0) {
      const messages = values.map((value, index) => ({
        offset: String(firstOffset + index),
        // As stored in the log: a record fetched again carries the same timestamp.
        timestamp: '1700000000000',
        key: null,
        value: value === null ? null : Buffer.from(value),
        headers: {},
        attributes: 0,
      }));
      await eachBatch!({
        batch: {
          topic,
          partition,
          messages,
          lastOffset: () => String(firstOffset + values.length - 1),
        },
        resolveOffset: (offset: string) => void resolved.push(`${topic}/${partition}@${offset}`),
        heartbeat: () => fake.heartbeat(),
        isRunning: () => true,
        isStale: () => false,
      } as unknown as EachBatchPayload);
    },
  };
  return fake;
}

/** Values are JSON bodies, sent as they are; "poison" is dead-lettered. */
const preparer: RecordPreparer = {
  async prepare({ value }) {
    const text = value?.toString() ?? '';
    if (text === 'poison') {
      return { ok: false, deadLetter: { reason: 'NOT_CONFLUENT_FRAMED', message: 'not framed' } };
    }
    const body = JSON.parse(text) as { eventId: string };
    return { ok: true, body: body as never, ids: { eventId: body.eventId, schemaId: 1 } };
  },
};

/**
 * An engine whose calls the test answers. A call waits (as in the limiter or a backoff) until
 * `wire(id)` puts it on the wire: an abort rejects a waiting call at once, like the real engine,
 * but not one on the wire, which only its answer (`settle`) ends.
 */
function controlledEngine() {
  const pending = new Map<string, (outcome: DeliveryOutcome) => void>();
  const onWire = new Set<string>();
  /** Every deliver() call, in order. */
  const started: string[] = [];
  let halted = false;
  const events = createDeliveryEvents();
  return {
    pending,
    started,
    setHalted: (value: boolean) => (halted = value),
    engine: {
      events,
      isHalted: () => halted,
      deliver: (body: unknown, options: { signal?: AbortSignal } = {}) =>
        new Promise<DeliveryOutcome>((resolve, reject) => {
          const id = (body as { eventId: string }).eventId;
          started.push(id);
          if (options.signal?.aborted === true) {
            reject(new BridgeError('SHUTTING_DOWN', 'aborted'));
            return;
          }
          pending.set(id, resolve);
          options.signal?.addEventListener('abort', () => {
            if (onWire.has(id)) return;
            pending.delete(id);
            reject(new BridgeError('SHUTTING_DOWN', 'aborted'));
          });
        }),
    },
    wire(...ids: string[]) {
      for (const id of ids) onWire.add(id);
    },
    settle(id: string) {
      pending.get(id)!({ kind: 'delivered', status: 200, attempts: 1 });
      pending.delete(id);
    },
  };
}

function recordingDlq() {
  const letters: { record: SourceRecord; why: DeadLetterReason }[] = [];
  const dlq: DlqWriter = {
    topic: 't.dlq',
    halts: new HaltState('dlq', () => performance.now()),
    async write(record, why) {
      letters.push({ record, why });
      return { reason: why.reason, reference: false };
    },
  };
  return { dlq, letters };
}

/** A receipts writer whose acknowledgements the test gives, one record at a time (`ack`). */
function controlledReceipts() {
  const waiting = new Map<string, { resolve(): void; reject(error: Error): void }>();
  const written: { offset: string; settlement: Settlement }[] = [];
  const writer: NonNullable<RuntimeOptions['receipts']> = {
    topic: 't.receipts',
    halts: new HaltState('receipts', () => performance.now()),
    write: (record, settlement) =>
      new Promise<void>((resolve, reject) => {
        waiting.set(record.offset, {
          resolve: () => {
            written.push({ offset: record.offset, settlement });
            resolve();
          },
          reject,
        });
      }),
  };
  return {
    writer,
    written,
    waiting,
    ack(...offsets: string[]) {
      for (const offset of offsets) {
        waiting.get(offset)!.resolve();
        waiting.delete(offset);
      }
    },
  };
}

const event = (id: string) => JSON.stringify({ eventId: id });
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function build(overrides: Partial<RuntimeOptions> & Pick<RuntimeOptions, 'consumer' | 'engine'>) {
  const { dlq } = recordingDlq();
  return createRuntime({
    topics: ['t'],
    preparer,
    dlq,
    clock: systemClock,
    sleep: systemSleep,
    maxInFlight: 8,
    maxBuffered: 100,
    commitIntervalMs: 60_000,
    shutdownTimeoutMs: 200,
    ...overrides,
  });
}

/** A started runtime on a fake consumer and a controlled engine. */
async function started(overrides: Partial<RuntimeOptions> = {}) {
  const kafka = fakeConsumer();
  const gong = controlledEngine();
  const runtime = build({ consumer: kafka.consumer, engine: gong.engine, ...overrides });
  await runtime.start();
  return { kafka, gong, runtime };
}

describe('consumer runtime', () => {
  it('commits only the highest contiguous settled offset when records settle out of order', async () => {
    const { kafka, gong, runtime } = await started();
    await kafka.feed('t', 0, [event('a'), event('b'), event('c')]);
    await tick();
    gong.settle('b');
    gong.settle('c');
    await tick();
    gong.settle('a');
    await tick();
    await runtime.stop();
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '3' }]]);
    expect(runtime.stats()).toMatchObject({ consumed: 3, delivered: 3 });
  });

  it('on shutdown commits what settled, leaves the unsettled record uncommitted and disconnects', async () => {
    const { kafka, gong, runtime } = await started();
    await kafka.feed('t', 0, [event('a'), event('b'), event('c')]);
    await tick();
    gong.settle('a');
    gong.settle('c');
    await tick();
    await runtime.stop();
    // b never settled: the commit stops at it, so it is consumed again after a restart.
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    expect(kafka.calls.at(-1)).toBe('disconnect');
    expect(runtime.readiness()).toMatchObject({ ready: false, shuttingDown: true });
  });

  it('dead-letters a poison record and commits past it only once the DLQ write resolved', async () => {
    const { dlq, letters } = recordingDlq();
    const { kafka, gong, runtime } = await started({ dlq });
    await kafka.feed('t', 1, ['poison', event('x')]);
    await tick();
    gong.settle('x');
    await tick();
    await runtime.stop();
    expect(letters.map((letter) => [letter.record.offset, letter.why.reason])).toEqual([
      ['0', 'NOT_CONFLUENT_FRAMED'],
    ]);
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 1, offset: '2' }]]);
  });

  it('pauses a partition at its share of MAX_BUFFERED, leaves the rest of the batch for the refetch, resumes below half', async () => {
    const { kafka, gong, runtime } = await started({ maxBuffered: 4, maxInFlight: 2 });
    const paused: string[] = [];
    runtime.events.on('paused', (payload) => paused.push(payload.reason));
    await kafka.feed('t', 0, ['a', 'b', 'c', 'd', 'e'].map(event));
    await tick();
    expect(paused).toEqual(['backpressure']);
    // Only this partition pauses, and e is not resolved: kafkajs fetches it again later.
    expect(kafka.pauses).toEqual([{ call: 'pause', topics: [{ topic: 't', partitions: [0] }] }]);
    expect(kafka.resolved).toEqual(['t/0@0', 't/0@1', 't/0@2', 't/0@3']);
    expect(gong.pending.size).toBe(2);
    for (const id of ['a', 'b']) {
      gong.settle(id);
      await tick();
    }
    expect(kafka.pauses.at(-1)).toEqual({ call: 'resume', topics: [{ topic: 't', partitions: [0] }] });
    await kafka.feed('t', 0, [event('e')], 4);
    await tick();
    for (const id of ['c', 'd', 'e']) {
      gong.settle(id);
      await tick();
    }
    await runtime.stop();
    expect(runtime.stats().delivered).toBe(5);
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '5' }]);
  });

  it('shares MAX_BUFFERED between the assigned partitions and starts their records in turn', async () => {
    const { kafka, gong, runtime } = await started({ maxBuffered: 6, maxInFlight: 1 });
    kafka.emit('group_join', { memberAssignment: { t: [0, 1, 2] } });
    const joined = kafka.pauses.length;
    // A share of 2 each: one partition's large fetch cannot fill the buffer.
    await kafka.feed('t', 0, ['a0', 'b0', 'c0', 'd0'].map(event));
    await kafka.feed('t', 1, ['a1', 'b1', 'c1'].map(event));
    await tick();
    expect(kafka.resolved).toEqual(['t/0@0', 't/0@1', 't/1@0', 't/1@1']);
    expect(kafka.pauses.slice(joined)).toEqual([
      { call: 'pause', topics: [{ topic: 't', partitions: [0] }] },
      { call: 'pause', topics: [{ topic: 't', partitions: [1] }] },
    ]);
    for (const id of ['a0', 'a1', 'b0', 'b1']) {
      await tick();
      gong.settle(id);
    }
    await tick();
    // Round-robin, not fetch order (a0, b0, a1, b1).
    expect(gong.started).toEqual(['a0', 'a1', 'b0', 'b1']);
    await runtime.stop();
  });

  it('commits as soon as COMMIT_MAX_PENDING records settled, and the rest within COMMIT_INTERVAL_MS', async () => {
    const { kafka, gong, runtime } = await started({ commitMaxPending: 2, commitIntervalMs: 60 });
    await kafka.feed('t', 0, ['a', 'b', 'c'].map(event));
    await tick();
    gong.settle('a');
    await tick();
    expect(kafka.commits).toEqual([]);
    gong.settle('b');
    await tick();
    // The second settled record reached the bound: committed at once, not after 60 ms.
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
    gong.settle('c');
    await tick();
    expect(kafka.commits).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
    expect(runtime.stats().settledUncommitted).toBe(0);
    await runtime.stop();
  });

  it('a partition whose settled records cannot be committed yet starts nothing new past its share; others go on', async () => {
    const { kafka, gong, runtime } = await started({ commitMaxPending: 2, maxInFlight: 8, maxBuffered: 12 });
    // Two partitions: a share of 6 records each, so at most 6 settled records wait behind a stuck one.
    kafka.emit('group_join', { memberAssignment: { t: [0, 1] } });
    await kafka.feed('t', 0, ['a', 'b', 'c', 'd', 'e', 'f'].map(event));
    await tick();
    // a is slow (a long retry, say); the others settle above it and cannot be committed.
    for (const id of ['b', 'c', 'd', 'e', 'f']) gong.settle(id);
    await tick();
    await kafka.feed('t', 0, [event('g')], 6);
    await tick();
    gong.settle('g');
    await tick();
    expect(runtime.stats().settledUncommitted).toBe(6);
    // h is fetched but not started: a crash would replay a seventh settled record.
    await kafka.feed('t', 0, [event('h')], 7);
    await tick();
    expect(gong.started).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    await kafka.feed('t', 1, [event('x')]);
    await tick();
    expect(gong.started.at(-1)).toBe('x');
    gong.settle('a');
    await tick();
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '7' }]);
    expect(gong.started.at(-1)).toBe('h');
    await runtime.stop();
  });
  it('pauses every partition and reports unready during an auth halt, and resumes after it', async () => {
    const { kafka, gong, runtime } = await started();
    kafka.emit('group_join', { memberAssignment: { t: [0, 1] } });
    expect(runtime.readiness().ready).toBe(true);
    gong.setHalted(true);
    gong.engine.events.emit('auth-failed', { status: 401, reason: 'credentials' });
    expect(runtime.readiness()).toMatchObject({ ready: false, authOk: false, joined: true });
    expect(kafka.calls.at(-1)).toBe('pause');
    gong.setHalted(false);
    gong.engine.events.emit('auth-recovered', { haltedMs: 10, probes: 1 });
    expect(runtime.readiness().ready).toBe(true);
    expect(kafka.calls.at(-1)).toBe('resume');
    await runtime.stop();
  });

  it.each(['dlq', 'registry-auth', 'receipts'] as const)(
    'halts on its own dependency (%s): pauses, turns unready, and resumes when its probe succeeds',
    async (name) => {
      const kafka = fakeConsumer();
      const gong = controlledEngine();
      const halts = new HaltState(name, () => performance.now());
      const { dlq } = recordingDlq();
      const runtime = build({
        consumer: kafka.consumer,
        engine: gong.engine,
        ...(name === 'dlq'
          ? { dlq: { ...dlq, halts } }
          : name === 'receipts'
            ? { receipts: { ...controlledReceipts().writer, halts } }
            : { preparer: { ...preparer, halts } }),
      });
      const seen: string[] = [];
      runtime.events.on('halted', (event) => seen.push(`halted ${event.reason}: ${event.error}`));
      runtime.events.on('unhalted', (event) => seen.push(`unhalted ${event.reason}`));
      await runtime.start();
      kafka.emit('group_join', { memberAssignment: { t: [0, 1] } });
      expect(runtime.readiness().ready).toBe(true);
      halts.halt('refused');
      expect(runtime.readiness()).toMatchObject({ ready: false, halts: [name], authOk: true, joined: true });
      expect(kafka.calls.at(-1)).toBe('pause');
      halts.recover();
      expect(runtime.readiness()).toMatchObject({ ready: true, halts: [] });
      expect(kafka.calls.at(-1)).toBe('resume');
      expect(seen).toEqual([`halted ${name}: refused`, `unhalted ${name}`]);
      await runtime.stop();
    },
  );

  it('waits out registry failures as decode-policy.ts says, and treats only unknown errors as bugs', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const failures = ['REGISTRY_UNAVAILABLE', 'SCHEMA_ID_NOT_FOUND_YET', 'REGISTRY_AUTH_FAILED'] as const;
    let attempt = 0;
    const runtime = build({
      consumer: kafka.consumer,
      engine: gong.engine,
      registryRetryBaseMs: 1,
      registryRetryMaxMs: 2,
      preparer: {
        async prepare(record) {
          const code = failures[attempt++];
          if (code !== undefined) throw new BridgeError(code, code);
          return preparer.prepare(record);
        },
      },
    });
    const retried: string[] = [];
    const bugs: string[] = [];
    runtime.events.on('registry-unavailable', (event) => retried.push(event.code));
    runtime.events.on('internal-error', (event) => bugs.push(event.error));
    await runtime.start();
    await kafka.feed('t', 0, [event('a')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    gong.settle('a');
    await tick();
    await runtime.stop();
    // The auth failure waits silently: the lookup reports the halt once, not every retry.
    expect(retried).toEqual(['REGISTRY_UNAVAILABLE', 'SCHEMA_ID_NOT_FOUND_YET']);
    expect(bugs).toEqual([]);
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
  });

  it('counts a reference letter under its own reason', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const { dlq } = recordingDlq();
    const runtime = build({
      consumer: kafka.consumer,
      engine: gong.engine,
      dlq: { ...dlq, write: async () => ({ reason: 'DEAD_LETTER_TOO_LARGE', reference: true }) },
    });
    const reasons: string[] = [];
    runtime.events.on('dead-lettered', (event) => reasons.push(event.reason));
    await runtime.start();
    await kafka.feed('t', 0, ['poison']);
    await tick();
    await runtime.stop();
    expect(reasons).toEqual(['DEAD_LETTER_TOO_LARGE']);
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
  });

  it('on a rebalance starts no call for what is not on the wire yet, waits for the rest, commits, and resends nothing settled', async () => {
    const { kafka, gong, runtime } = await started({ maxInFlight: 2 });
    const phases: unknown[] = [];
    runtime.events.on('rebalance', (payload) => phases.push(payload));
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, ['a', 'b', 'c', 'd'].map(event));
    await tick();
    // a's request is on the wire; b waits (in the limiter, say); c and d are queued.
    gong.wire('a');
    kafka.emit('rebalancing', {});
    expect(runtime.readiness().joined).toBe(false);
    await tick();
    expect(phases.at(-1)).toEqual({ phase: 'revoking', inFlight: 2, dropped: 2 });
    // b stopped before its call; c and d never started.
    expect([...gong.pending.keys()]).toEqual(['a']);
    expect(gong.started).toEqual(['a', 'b']);
    gong.settle('a');
    await tick();
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    // The new generation fetches from the committed offset.
    await kafka.feed('t', 0, ['b', 'c', 'd'].map(event), 1);
    await tick();
    for (const id of ['b', 'c', 'd']) {
      gong.settle(id);
      await tick();
    }
    await runtime.stop();
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '4' }]);
    expect(runtime.stats().delivered).toBe(4);
  });

  it('never commits a partition that the assignment made during the revoke gave to another member', async () => {
    const { kafka, gong, runtime } = await started();
    kafka.emit('group_join', { memberAssignment: { t: [0, 1] } });
    await kafka.feed('t', 0, [event('a')]);
    await kafka.feed('t', 1, [event('b')]);
    await tick();
    gong.wire('a', 'b');
    // kafkajs noticed the rebalance itself: the revoke runs alongside the rejoin, which ends first.
    kafka.emit('rebalancing', {});
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    gong.settle('a');
    gong.settle('b');
    await tick();
    await runtime.stop();
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
  });

  it('keeps nothing for a partition given away while the revoke ran, so its reused offsets are all sent (stale mark)', async () => {
    const { kafka, gong, runtime } = await started();
    kafka.emit('group_join', { memberAssignment: { t: [0, 1] } });
    await kafka.feed('t', 1, ['a1', 'b1'].map(event));
    await kafka.feed('t', 0, [event('x')]);
    await tick();
    gong.settle('a1');
    gong.settle('b1');
    gong.wire('x');
    // The REBALANCING path: the revoke waits for x while kafkajs rejoins, and partition 1 goes
    // to another member before the revoke has finished.
    kafka.emit('rebalancing', {});
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    gong.settle('x');
    await tick();
    // Later partition 1 comes back, its topic recreated: offsets 0 and 1 hold new records.
    kafka.emit('rebalancing', {});
    await tick();
    kafka.emit('group_join', { memberAssignment: { t: [0, 1] } });
    await kafka.feed('t', 1, ['c1', 'd1'].map(event));
    await tick();
    expect(gong.started).toEqual(['a1', 'b1', 'x', 'c1', 'd1']);
    gong.settle('c1');
    gong.settle('d1');
    await tick();
    await runtime.stop();
  });

  it('a record refetched at an offset it held before a revoke, with other content, is sent (offsets reused)', async () => {
    const { kafka, gong, runtime } = await started();
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, ['a', 'b'].map(event));
    await tick();
    gong.settle('a');
    gong.settle('b');
    // The revoke's commit is lost: a and b are carried over as settled.
    kafka.inGroup = false;
    kafka.emit('rebalancing', {});
    await tick();
    kafka.inGroup = true;
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    // The same a at offset 0 is not sent again; offset 1 now holds c (the log was rewritten).
    await kafka.feed('t', 0, ['a', 'c'].map(event));
    await tick();
    expect(gong.started).toEqual(['a', 'b', 'c']);
    gong.settle('c');
    await tick();
    await runtime.stop();
    expect(kafka.broker.get('t/0')).toBe('2');
  });

  it('pauses fetching while the daily quota is spent and resumes when the window resets', async () => {
    let exhausted: ((payload: { until: number; dailyLimit: number }) => void) | undefined;
    const { kafka, runtime } = await started({
      limiter: {
        on: (_event, listener) => {
          exhausted = listener as typeof exhausted;
          return () => {};
        },
      },
    });
    const halts: string[] = [];
    runtime.events.on('halted', (event) => halts.push(`halted ${event.reason}`));
    runtime.events.on('unhalted', (event) => halts.push(`unhalted ${event.reason}`));
    exhausted!({ until: Date.now() + 50, dailyLimit: 10 });
    expect(kafka.calls.at(-1)).toBe('pause');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(kafka.calls.at(-1)).toBe('resume');
    expect(halts).toEqual(['halted quota', 'unhalted quota']);
    await runtime.stop();
  });

  it('retries a record hit by a bug instead of dead-lettering it, and says so loudly', async () => {
    const { dlq, letters } = recordingDlq();
    let calls = 0;
    const { kafka, gong, runtime } = await started({
      dlq,
      preparer: {
        async prepare(record) {
          calls += 1;
          if (calls === 1) throw new TypeError('boom');
          return preparer.prepare(record);
        },
      },
    });
    const bugs: string[] = [];
    runtime.events.on('internal-error', (event) => bugs.push(event.error));
    await kafka.feed('t', 0, [event('a')]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(bugs).toEqual(['boom']);
    gong.settle('a');
    await tick();
    await runtime.stop();
    expect(letters).toEqual([]);
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
  });

  it('revokes before the rejoin when the batch heartbeat reports a rebalance', async () => {
    const { kafka, gong, runtime } = await started();
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, [event('a'), event('b')]);
    await tick();
    gong.wire('a', 'b');
    kafka.heartbeat = async () => {
      throw Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    };
    const next = kafka.feed('t', 0, [event('c')], 2).catch((error: unknown) => error);
    await tick();
    gong.settle('a');
    gong.settle('b');
    // eachBatch rethrows (so kafkajs rejoins) only after the settled records were committed.
    expect(await next).toMatchObject({ type: 'REBALANCE_IN_PROGRESS' });
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
    // kafkajs then announces the rebalance; the revoke is not repeated.
    const phases: string[] = [];
    runtime.events.on('rebalance', (payload) => phases.push(payload.phase));
    kafka.emit('rebalancing', {});
    expect(phases).toEqual([]);
    await runtime.stop();
  });

  it('a commit kafkajs resolves without the broker acknowledging it does not strand the partition', async () => {
    const { kafka, gong, runtime } = await started({ commitIntervalMs: 10 });
    const committed: string[] = [];
    const failed: string[] = [];
    runtime.events.on('committed', (entry) => committed.push(entry.offset));
    runtime.events.on('commit-failed', (event) => failed.push(event.error));
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, [event('a'), event('b'), event('c')]);
    await tick();
    gong.wire('a', 'b', 'c');
    gong.settle('a');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(kafka.broker.get('t/0')).toBe('1');
    // The broker goes away: until kafkajs has restarted the consumer, commitOffsets resolves
    // without committing.
    kafka.inGroup = false;
    gong.settle('b');
    gong.settle('c');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
    expect(kafka.broker.get('t/0')).toBe('1');
    expect(committed).toEqual(['1']);
    expect(failed.length).toBeGreaterThan(0);
    // kafkajs reports the crash (it has left the group) and restarts the consumer: a revoke,
    // and no commit at all until the rejoin, since the partition may be another member's.
    kafka.emit('crash', { error: new Error('Connection error'), restart: true });
    await tick();
    const attempts = kafka.commits.length;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(kafka.commits).toHaveLength(attempts);
    // It rejoins and fetches again from what the broker holds: b and c, both already delivered.
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    kafka.inGroup = true;
    await kafka.feed('t', 0, [event('b'), event('c')], 1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    // They are not sent to Gong again, and the partition commits past them.
    expect(gong.started).toEqual(['a', 'b', 'c']);
    expect(kafka.broker.get('t/0')).toBe('3');
    expect(committed).toEqual(['1', '3']);
    await runtime.stop();
    expect(runtime.stats()).toMatchObject({ consumed: 3, delivered: 3 });
  });

  it('a crash of the consumer throws nothing into kafkajs, and the restarted consumer fetches again', async () => {
    const { kafka, runtime } = await started();
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    // kafkajs emits CRASH after it disconnected: pause and resume now throw.
    kafka.initialized = false;
    expect(() => kafka.emit('crash', { error: new Error('Connection error'), restart: true })).not.toThrow();
    await tick();
    kafka.initialized = true;
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    expect(kafka.calls.at(-1)).toBe('resume');
    expect(runtime.readiness().joined).toBe(true);
    await runtime.stop();
  });
});

describe('consumer runtime with a receipts topic', () => {
  it('commits past a settled record only once its receipt is acknowledged, and frees MAX_IN_FLIGHT at once', async () => {
    const receipts = controlledReceipts();
    const { kafka, gong, runtime } = await started({
      receipts: receipts.writer,
      maxInFlight: 1,
      commitMaxPending: 1,
    });
    await kafka.feed('t', 0, [event('a'), event('b')]);
    await tick();
    gong.settle('a');
    await tick();
    // a settled: its receipt waits, and b is already on its way to Gong (MAX_IN_FLIGHT 1).
    expect(gong.started).toEqual(['a', 'b']);
    expect(runtime.stats()).toMatchObject({ receiptsPending: 1, settledUncommitted: 1, inFlight: 1 });
    expect(kafka.commits).toEqual([]);
    receipts.ack('0');
    await tick();
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    gong.settle('b');
    await tick();
    expect(kafka.commits).toHaveLength(1);
    receipts.ack('1');
    await tick();
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    expect(runtime.stats()).toMatchObject({ receipts: 2, receiptsPending: 0, settledUncommitted: 0 });
    await runtime.stop();
  });

  it('a receipt acknowledged out of order does not let the commit pass an earlier one still waiting', async () => {
    const receipts = controlledReceipts();
    const { kafka, gong, runtime } = await started({ receipts: receipts.writer, commitMaxPending: 1 });
    await kafka.feed('t', 0, ['a', 'b', 'c'].map(event));
    await tick();
    for (const id of ['a', 'b', 'c']) gong.settle(id);
    await tick();
    receipts.ack('1', '2');
    await tick();
    expect(kafka.commits).toEqual([]);
    receipts.ack('0');
    await tick();
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
    await runtime.stop();
  });

  it('writes what settled: delivered with Gong status, requestId and attempts; dead-lettered with its reason', async () => {
    const receipts = controlledReceipts();
    const { kafka, gong, runtime } = await started({ receipts: receipts.writer });
    await kafka.feed('t', 0, [event('a'), 'poison']);
    await tick();
    gong.pending.get('a')!({ kind: 'delivered', status: 200, requestId: 'req-1', attempts: 2 });
    await tick();
    receipts.ack('0', '1');
    await tick();
    expect(receipts.written.sort((x, y) => x.offset.localeCompare(y.offset))).toEqual([
      {
        offset: '0',
        settlement: {
          outcome: 'delivered',
          eventId: 'a',
          status: 200,
          requestId: 'req-1',
          attempts: 2,
          schemaId: 1,
        },
      },
      {
        offset: '1',
        settlement: expect.objectContaining({
          outcome: 'dead-lettered',
          reason: 'NOT_CONFLUENT_FRAMED',
          referenceLetter: false,
          attempts: 0,
        }) as Settlement,
      },
    ]);
    await runtime.stop();
  });

  it('a partition waiting for receipts starts nothing new past its share; the wait counts as settled, uncommitted', async () => {
    const receipts = controlledReceipts();
    const { kafka, gong, runtime } = await started({
      receipts: receipts.writer,
      commitMaxPending: 2,
      maxBuffered: 3,
      maxInFlight: 8,
    });
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, ['a', 'b', 'c'].map(event));
    await tick();
    gong.settle('a');
    gong.settle('b');
    gong.settle('c');
    await tick();
    await kafka.feed('t', 0, ['d'].map(event), 3);
    await tick();
    // Three receipts wait (the lane's share of 3): d is fetched but not started.
    expect(gong.started).toEqual(['a', 'b', 'c']);
    receipts.ack('0', '1', '2');
    await tick();
    expect(gong.started).toEqual(['a', 'b', 'c', 'd']);
    await runtime.stop();
  });

  it('a revoke waits for the receipts on their way and commits what they cover', async () => {
    const receipts = controlledReceipts();
    const { kafka, gong, runtime } = await started({ receipts: receipts.writer });
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, ['a', 'b'].map(event));
    await tick();
    gong.settle('a');
    gong.settle('b');
    await tick();
    kafka.emit('rebalancing', {});
    await tick();
    expect(kafka.commits).toEqual([]);
    receipts.ack('0', '1');
    await tick();
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
    await runtime.stop();
  });

  it('shutdown leaves a record whose receipt was never acknowledged uncommitted', async () => {
    const receipts = controlledReceipts();
    const { kafka, gong, runtime } = await started({ receipts: receipts.writer, shutdownTimeoutMs: 50 });
    await kafka.feed('t', 0, ['a', 'b'].map(event));
    await tick();
    gong.settle('a');
    gong.settle('b');
    await tick();
    receipts.ack('0');
    await runtime.stop();
    // b's receipt never came back: the commit stops at b, which is consumed (and receipted) again.
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    receipts.waiting.get('1')!.reject(new BridgeError('SHUTTING_DOWN', 'closed'));
  });

  it('a receipt the topic refuses for its size is tried again, not skipped', async () => {
    let refusals = 2;
    const written: string[] = [];
    const { kafka, gong, runtime } = await started({
      commitMaxPending: 1,
      receipts: {
        topic: 't.receipts',
        halts: new HaltState('receipts', () => performance.now()),
        async write(record) {
          if (refusals-- > 0) throw new BridgeError('PRODUCE_TOO_LARGE', 'too large');
          written.push(record.offset);
        },
      },
      sleep: (ms, signal) => systemSleep(Math.min(ms, 5), signal),
    });
    const bugs: string[] = [];
    runtime.events.on('internal-error', (payload) => bugs.push(payload.error));
    await kafka.feed('t', 0, [event('a')]);
    await tick();
    gong.settle('a');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(written).toEqual(['0']);
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    // Too large is the producer's to report (receipt-write-failed), not a bug.
    expect(bugs).toEqual([]);
    await runtime.stop();
  });
});
