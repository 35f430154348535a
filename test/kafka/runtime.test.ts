import type { Consumer, EachBatchPayload } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../../src/delivery/engine.ts';
import { createDeliveryEvents } from '../../src/delivery/events.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { BridgeError } from '../../src/errors.ts';
import type { RecordPreparer } from '../../src/decode/prepare.ts';
import type { DeadLetterReason, DlqWriter, SourceRecord } from '../../src/kafka/dlq.ts';
import { HaltState } from '../../src/kafka/halt-state.ts';
import { createRuntime, type RuntimeOptions } from '../../src/kafka/runtime.ts';

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
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
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
    inGroup: true,
    emit(name: string, payload: unknown) {
      for (const listener of listeners.get(name) ?? []) listener({ payload } as never);
    },
    /** Feeds one batch of JSON "records" as kafkajs would. */
    heartbeat: async () => {},
    async feed(topic: string, partition: number, values: (string | null)[], firstOffset = 0) {
      const messages = values.map((value, index) => ({
        offset: String(firstOffset + index),
        timestamp: String(Date.now()),
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
        resolveOffset: () => {},
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

function controlledEngine() {
  const pending = new Map<string, (outcome: DeliveryOutcome) => void>();
  let halted = false;
  const events = createDeliveryEvents();
  return {
    pending,
    setHalted: (value: boolean) => (halted = value),
    engine: {
      events,
      isHalted: () => halted,
      deliver: (body: unknown, options: { signal?: AbortSignal } = {}) =>
        new Promise<DeliveryOutcome>((resolve, reject) => {
          const id = (body as { eventId: string }).eventId;
          pending.set(id, resolve);
          options.signal?.addEventListener('abort', () =>
            reject(new BridgeError('SHUTTING_DOWN', 'aborted')),
          );
        }),
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

describe('consumer runtime', () => {
  it('commits only the highest contiguous settled offset when records settle out of order', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine });
    await runtime.start();
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
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine });
    await runtime.start();
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
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const { dlq, letters } = recordingDlq();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine, dlq });
    await runtime.start();
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

  it('pauses fetching past MAX_BUFFERED and resumes once below half of it', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine, maxBuffered: 4, maxInFlight: 2 });
    const paused: string[] = [];
    runtime.events.on('paused', (payload) => paused.push(payload.reason));
    await runtime.start();
    await kafka.feed('t', 0, ['a', 'b', 'c', 'd', 'e'].map(event));
    await tick();
    expect(paused).toEqual(['backpressure']);
    expect(kafka.calls.filter((call) => call === 'pause')).toHaveLength(1);
    expect(gong.pending.size).toBe(2);
    for (const id of ['a', 'b', 'c']) {
      gong.settle(id);
      await tick();
    }
    expect(kafka.calls.filter((call) => call === 'resume')).toHaveLength(1);
    for (const id of ['d', 'e']) {
      gong.settle(id);
      await tick();
    }
    await runtime.stop();
  });

  it('pauses every partition and reports unready during an auth halt, and resumes after it', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine });
    await runtime.start();
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

  it.each(['dlq', 'registry-auth'] as const)(
    'halts on its own dependency (%s): pauses, turns unready, and resumes when its probe succeeds',
    async (name) => {
      const kafka = fakeConsumer();
      const gong = controlledEngine();
      const halts = new HaltState(name, () => performance.now());
      const { dlq } = recordingDlq();
      const runtime = build({
        consumer: kafka.consumer,
        engine: gong.engine,
        ...(name === 'dlq' ? { dlq: { ...dlq, halts } } : { preparer: { ...preparer, halts } }),
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

  it('on a rebalance drops queued records, waits for in-flight ones, commits, and skips refetched settled ones', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine, maxInFlight: 1 });
    await runtime.start();
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, [event('a'), event('b')]);
    await tick();
    kafka.emit('rebalancing', {});
    expect(runtime.readiness().joined).toBe(false);
    gong.settle('a');
    await tick();
    expect(kafka.commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    // The new generation refetches from the committed offset; b was dropped and comes again.
    await kafka.feed('t', 0, [event('a'), event('b')]);
    await tick();
    expect([...gong.pending.keys()]).toEqual(['b']);
    gong.settle('b');
    await tick();
    await runtime.stop();
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    expect(runtime.stats().delivered).toBe(2);
  });

  it('pauses fetching while the daily quota is spent and resumes when the window resets', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    let exhausted: ((payload: { until: number; dailyLimit: number }) => void) | undefined;
    const runtime = build({
      consumer: kafka.consumer,
      engine: gong.engine,
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
    await runtime.start();
    exhausted!({ until: Date.now() + 50, dailyLimit: 10 });
    expect(kafka.calls.at(-1)).toBe('pause');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(kafka.calls.at(-1)).toBe('resume');
    expect(halts).toEqual(['halted quota', 'unhalted quota']);
    await runtime.stop();
  });

  it('retries a record hit by a bug instead of dead-lettering it, and says so loudly', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const { dlq, letters } = recordingDlq();
    let calls = 0;
    const runtime = build({
      consumer: kafka.consumer,
      engine: gong.engine,
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
    await runtime.start();
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
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine });
    await runtime.start();
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, [event('a'), event('b')]);
    await tick();
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

  it('a commit acknowledged while the consumer is between restarts does not strand the partition', async () => {
    const kafka = fakeConsumer();
    const gong = controlledEngine();
    const runtime = build({ consumer: kafka.consumer, engine: gong.engine, commitIntervalMs: 10 });
    const committed: string[] = [];
    const failed: string[] = [];
    runtime.events.on('committed', (entry) => committed.push(entry.offset));
    runtime.events.on('commit-failed', (event) => failed.push(event.error));
    await runtime.start();
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await kafka.feed('t', 0, [event('a'), event('b'), event('c')]);
    await tick();
    gong.settle('a');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(kafka.broker.get('t/0')).toBe('1');
    // The broker goes away: kafkajs crashes the consumer and restarts it; until the restarted
    // consumer has joined, commitOffsets resolves without committing.
    kafka.emit('crash', { error: new Error('Connection error'), restart: true });
    kafka.inGroup = false;
    gong.settle('b');
    gong.settle('c');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(kafka.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
    expect(kafka.broker.get('t/0')).toBe('1');
    expect(committed).toEqual(['1']);
    expect(failed.length).toBeGreaterThan(0);
    // The restarted consumer joins (its revoke's commit is not acknowledged either) and fetches
    // again from what the broker holds: b and c, both already delivered.
    kafka.emit('group_join', { memberAssignment: { t: [0] } });
    await tick();
    kafka.inGroup = true;
    await kafka.feed('t', 0, [event('b'), event('c')], 1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    // They are not sent to Gong again, and the partition commits past them.
    expect(gong.pending.size).toBe(0);
    expect(kafka.broker.get('t/0')).toBe('3');
    expect(committed).toEqual(['1', '3']);
    await runtime.stop();
    expect(runtime.stats()).toMatchObject({ consumed: 3, delivered: 3 });
  });
});
