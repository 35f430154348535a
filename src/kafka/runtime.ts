import type { Consumer } from 'kafkajs';
import type { DeliveryEngine } from '../delivery/engine.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import type { LimiterEventMap } from '../delivery/limiter-types.ts';
import type { RecordPreparer } from '../decode/prepare.ts';
import type { ReceiptWriter } from '../receipts/writer.ts';
import { createBatchIntake } from './batch-intake.ts';
import { CommitScheduler } from './commit-scheduler.ts';
import type { DlqWriter } from './dlq.ts';
import { RuntimeEvents, type Readiness } from './events.ts';
import { FetchPauses } from './fetch-pauses.ts';
import { GroupAssignment } from './group-assignment.ts';
import type { HaltSource, HaltSourceName } from './halt-state.ts';
import { OffsetCommits } from './offset-commits.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { PartitionBuffer } from './partition-buffer.ts';
import { RecordDispatch, type Work } from './record-dispatch.ts';
import { createRecordHandler, type RuntimeCounts } from './record-handling.ts';

/**
 * The consumer runtime: fetch, dispatch each record concurrently through the preparer (decode,
 * map or transform, validate) and the delivery engine (or the dead-letter topic), and commit per
 * partition only the highest contiguous settled offset. It is a thin shell: the decisions live in
 * the offset tracker, the partition buffer, the commit scheduler, the preparer (src/decode/), the
 * engine's outcome policy and the DLQ writer. Its parts: one record to a settled state
 * (record-handling.ts), dispatch (record-dispatch.ts), commit (offset-commits.ts and
 * commit-scheduler.ts), assignment and revoke (group-assignment.ts), the intake of kafkajs'
 * batches (batch-intake.ts) and the fetch pauses (fetch-pauses.ts, and the halts below).
 *
 * How kafkajs is driven:
 *  - eachBatch returns as soon as the batch's records are queued (eachBatchAutoResolve off,
 *    resolveOffset per accepted record). resolveOffset only moves kafkajs' fetch position; with
 *    autoCommit off nothing reaches the broker except our own commitOffsets calls.
 *  - Memory: each assigned partition may buffer its share of MAX_BUFFERED (partition-buffer.ts);
 *    a batch beyond the share is left unresolved (kafkajs fetches it again) and the partition is
 *    paused until half its share drained. Records start round-robin over the partitions, at most
 *    MAX_IN_FLIGHT at once.
 *  - Commits follow settlements (commit-scheduler.ts): at COMMIT_MAX_PENDING settled records or
 *    COMMIT_INTERVAL_MS, one at a time. A partition whose settled records no commit can cover
 *    yet starts nothing new once its share of MAX_BUFFERED (at least COMMIT_MAX_PENDING) of
 *    them wait, so what a crash replays stays bounded even behind a stuck record.
 *  - kafkajs has no revoke callback and uses the eager protocol (a rebalance revokes every
 *    partition). The revoke starts the moment the rebalance is known (a batch's heartbeat, the
 *    REBALANCING event, a crash of the consumer): from then on no record of the old assignment
 *    may begin a Gong call or a dead-letter write, queued ones are dropped (whoever gets the
 *    partition fetches them again); calls already on the wire get revokeTimeoutMs to answer,
 *    what settled is committed for the partitions still owned, and the partition state is
 *    forgotten, keeping the settled-not-committed records so that the next generation does not
 *    send them again. Batches of the new generation wait until the revoke is done.
 *  - With a receipts topic (KAFKA_RECEIPTS_TOPIC), a settled record counts as settled for the
 *    tracker only once its receipt is acknowledged: no commit passes a record whose receipt the
 *    broker has not stored. The record leaves MAX_IN_FLIGHT as soon as its outcome is known, so
 *    the receipt's round trip (batched with the others) is not added to every Gong call.
 *  - A commit counts only once the broker acknowledged it (kafkajs' COMMIT_OFFSETS event). While
 *    kafkajs restarts a crashed consumer, commitOffsets resolves without committing anything. A
 *    commit never includes a partition the latest assignment gave to another member.
 */

export interface RuntimeOptions {
  /** A kafkajs consumer built with the group id; the runtime connects, subscribes and runs it. */
  readonly consumer: Consumer;
  readonly topics: readonly string[];
  /** Each record's body, or why it is dead-lettered (src/decode/prepare.ts). */
  readonly preparer: RecordPreparer;
  readonly engine: Pick<DeliveryEngine, 'deliver' | 'isHalted' | 'events'>;
  readonly dlq: DlqWriter;
  /** KAFKA_RECEIPTS_TOPIC: a receipt per settled record, acknowledged before its commit. */
  readonly receipts?: Pick<ReceiptWriter, 'write' | 'halts' | 'topic'> | undefined;
  /** The limiter's events, to pause fetching while the daily quota is spent. */
  readonly limiter?: {
    on<K extends 'quota-exhausted'>(event: K, listener: (payload: LimiterEventMap[K]) => void): () => void;
  };
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly maxInFlight: number;
  readonly maxBuffered: number;
  /** Longest a settled record waits for its commit. */
  readonly commitIntervalMs: number;
  /** Settled records that may wait for a commit; see the commit scheduler. Default 20. */
  readonly commitMaxPending?: number;
  readonly shutdownTimeoutMs: number;
  /** Bounded wait for calls on the wire of revoked partitions; default min(10 s, shutdown timeout). */
  readonly revokeTimeoutMs?: number;
  /** Backoff while the registry is unavailable; defaults 500 ms doubling to 10 s. */
  readonly registryRetryBaseMs?: number;
  readonly registryRetryMaxMs?: number;
  readonly events?: RuntimeEvents;
}

export interface RuntimeStats {
  readonly consumed: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly deadLettered: number;
  readonly buffered: number;
  readonly inFlight: number;
  readonly commits: number;
  /** Assigned partitions whose fetching is paused, for whatever reason. */
  readonly pausedPartitions: number;
  /**
   * Settled records no acknowledged commit covers yet, including those whose receipt is not
   * acknowledged yet: what a crash now would replay.
   */
  readonly settledUncommitted: number;
  /** Receipts written and acknowledged. */
  readonly receipts: number;
  /** Settled records waiting for their receipt's acknowledgement. */
  readonly receiptsPending: number;
}

export interface Runtime {
  readonly events: RuntimeEvents;
  /** Connects, subscribes and joins the group; resolves once consuming has started. */
  start(): Promise<void>;
  /**
   * Graceful stop: fetching stops, no new call starts, calls on the wire get SHUTDOWN_TIMEOUT_MS
   * to answer, settled offsets are committed, then the consumer leaves the group. Idempotent.
   */
  stop(): Promise<void>;
  /** Joined the group, Gong accepts the credentials, and not shutting down. */
  readiness(): Readiness;
  stats(): RuntimeStats;
  /** Rejects if the consumer crashed for good (kafkajs gave up); never resolves otherwise before stop. */
  readonly crashed: Promise<never>;
}

const defaultCommitMaxPending = 20;

export function createRuntime(options: RuntimeOptions): Runtime {
  const { consumer, preparer, engine, dlq, receipts, clock, sleep } = options;
  const events = options.events ?? new RuntimeEvents();
  const commitMaxPending = options.commitMaxPending ?? defaultCommitMaxPending;
  const tracker = new OffsetTracker();
  const buffer = new PartitionBuffer<Work>(options.maxBuffered);
  /** Aborted at shutdown: ends the waits that belong to no record (the quota pause). */
  const closing = new AbortController();
  const pauses = new FetchPauses({ topics: options.topics, consumer, lanes: buffer, clock, events });
  let shuttingDown = false;
  let running = false;
  let stopping: Promise<void> | undefined;
  let lastReadiness: Readiness | undefined;
  let rejectCrashed: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => {
    rejectCrashed = reject;
  });
  crashed.catch(() => {});
  const unsubscribers: (() => void)[] = [];
  const counts: RuntimeCounts = { consumed: 0, delivered: 0, duplicates: 0, deadLettered: 0, receipts: 0 };

  // The parts, each in its own module: dispatch (one record at a time to a settled state),
  // commit (when, and what the broker acknowledged), assignment and revoke, and the intake of
  // kafkajs' batches. They call each other through these names only.
  const dispatch: RecordDispatch = new RecordDispatch({
    buffer,
    tracker,
    handle: createRecordHandler({
      preparer,
      engine,
      dlq,
      events,
      counts,
      clock,
      sleep,
      registryRetryBaseMs: options.registryRetryBaseMs ?? 500,
      registryRetryMaxMs: options.registryRetryMaxMs ?? 10_000,
    }),
    receipts,
    counts,
    settled: (count) => scheduler.settled(count),
    onRecordEnded: () => pauses.checkBackpressure(),
    events,
    clock,
    sleep,
    maxInFlight: options.maxInFlight,
    commitMaxPending,
  });
  const assignment: GroupAssignment = new GroupAssignment({
    buffer,
    pauses,
    tracker,
    events,
    clock,
    revokeTimeoutMs: options.revokeTimeoutMs ?? Math.min(10_000, options.shutdownTimeoutMs),
    working: () => dispatch.working,
    waitForInFlight: (ms) => dispatch.waitForInFlight(ms),
    flushCommits: () => scheduler.flush(),
    onMembershipChange: () => publishReadiness(),
  });
  const commits = new OffsetCommits({
    consumer,
    tracker,
    events,
    owns: (topic, partition) => assignment.owns(topic, partition),
    onCommitted: () => dispatch.pump(),
  });
  const scheduler = new CommitScheduler({
    maxPending: commitMaxPending,
    intervalMs: options.commitIntervalMs,
    commit: () => commits.commit(),
    schedule: (run, ms) => {
      const timer = setTimeout(run, ms);
      timer.unref();
      return () => clearTimeout(timer);
    },
  });
  const eachBatch = createBatchIntake({
    assignment,
    buffer,
    tracker,
    events,
    counts,
    shuttingDown: () => shuttingDown,
    settled: (count) => scheduler.settled(count),
    pump: () => dispatch.pump(),
    checkBackpressure: () => pauses.checkBackpressure(),
  });

  /**
   * Dependencies that refuse us (dlq.ts, the registry, receipts/writer.ts): each pauses fetching
   * and makes us unready.
   */
  const haltSources = [dlq.halts, preparer.halts, receipts?.halts].filter(
    (source): source is HaltSource => source !== undefined,
  );

  function readiness(): Readiness {
    const authOk = !engine.isHalted();
    const halts: HaltSourceName[] = haltSources
      .filter((source) => source.isHalted())
      .map((source) => source.name);
    const joined = assignment.joined;
    return {
      ready: joined && authOk && halts.length === 0 && !shuttingDown,
      joined,
      authOk,
      halts,
      shuttingDown,
    };
  }

  function publishReadiness(): void {
    const next = readiness();
    if (lastReadiness === undefined || !sameReadiness(lastReadiness, next)) {
      lastReadiness = next;
      events.emit('ready-state', next);
    }
  }

  function settledUncommitted(): number {
    let total = 0;
    for (const { topic, partition } of tracker.partitions())
      total += tracker.settledUncommitted(topic, partition);
    return total + dispatch.receiptsPending;
  }

  return {
    events,
    crashed,
    readiness,
    stats: () => ({
      ...counts,
      commits: commits.count,
      buffered: buffer.queued() + dispatch.inFlight,
      inFlight: dispatch.inFlight,
      pausedPartitions: pauses.pausedPartitions(),
      settledUncommitted: settledUncommitted(),
      receiptsPending: dispatch.receiptsPending,
    }),
    async start() {
      unsubscribers.push(
        ...followGroupEvents(consumer, assignment, commits, pauses, (error) => {
          events.emit('crashed', { error: error.message });
          rejectCrashed(error);
        }),
      );
      unsubscribers.push(
        ...pauseWhileHalted({
          engine,
          haltSources,
          limiter: options.limiter,
          pauses,
          events,
          clock,
          sleep,
          closing: closing.signal,
          shuttingDown: () => shuttingDown,
          publishReadiness,
        }),
      );
      publishReadiness();
      await consumer.connect();
      await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
      running = true;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch,
      });
      // kafkajs refuses pause and resume before run(); what was paused meanwhile applies now.
      pauses.activate();
    },
    stop() {
      stopping ??= (async () => {
        shuttingDown = true;
        publishReadiness();
        pauses.set('shutdown', true);
        // As at a revoke: nothing starts a call any more, only what is on the wire is waited for.
        buffer.revokeAll('shutting down');
        closing.abort();
        const revoking = assignment.revoking;
        if (revoking !== undefined) await revoking;
        await dispatch.waitForInFlight(options.shutdownTimeoutMs);
        scheduler.stop();
        await scheduler.flush();
        for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
        // Before run() started, kafkajs refuses to disconnect a consumer group it never joined.
        // disconnect() sends LeaveGroup, so the group moves our partitions at once instead of
        // waiting for our session to expire.
        await consumer.disconnect().catch((error: unknown) => {
          if (running) throw error;
        });
      })();
      return stopping;
    },
  };
}

/**
 * kafkajs' group events: a rebalance starts the revoke, a join brings the assignment, its
 * acknowledged commits go to the commit part, and a crash loses the partitions. Returns the
 * unsubscribers.
 */
function followGroupEvents(
  consumer: Consumer,
  assignment: GroupAssignment,
  commits: OffsetCommits,
  pauses: FetchPauses,
  gaveUp: (error: Error) => void,
): (() => void)[] {
  const { REBALANCING, GROUP_JOIN, CRASH, COMMIT_OFFSETS } = consumer.events;
  return [
    consumer.on(REBALANCING, () => {
      void assignment.revoke('rebalance');
    }),
    consumer.on(GROUP_JOIN, (event) => {
      const given = event.payload.memberAssignment;
      assignment.assigned(
        Object.entries(given).flatMap(([topic, list]) => list.map((partition) => ({ topic, partition }))),
      );
    }),
    consumer.on(COMMIT_OFFSETS, (event) => commits.acknowledge(event.payload)),
    consumer.on(CRASH, (event) => {
      // kafkajs has already left the group (it disconnects before it restarts or gives up):
      // the partitions may be someone else's by now, and pause/resume are refused until the
      // restarted consumer has joined.
      assignment.lost();
      pauses.suspend();
      void assignment.revoke('the consumer crashed');
      if (event.payload.restart) return;
      assignment.left();
      gaveUp(event.payload.error);
    }),
  ];
}

function sameReadiness(a: Readiness, b: Readiness): boolean {
  return (
    a.ready === b.ready &&
    a.joined === b.joined &&
    a.authOk === b.authOk &&
    a.halts.join() === b.halts.join() &&
    a.shuttingDown === b.shuttingDown
  );
}

interface HaltPausesOptions {
  readonly engine: Pick<DeliveryEngine, 'events'>;
  readonly haltSources: readonly HaltSource[];
  readonly limiter: RuntimeOptions['limiter'];
  readonly pauses: FetchPauses;
  readonly events: RuntimeEvents;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** Aborted at shutdown: ends the quota pause's wait. */
  readonly closing: AbortSignal;
  readonly shuttingDown: () => boolean;
  readonly publishReadiness: () => void;
}

/**
 * Halts: while Gong refuses the credentials, a dependency halts (the DLQ, the registry, the
 * receipts topic) or the daily quota is spent, fetching pauses and the runtime says so. Returns
 * the unsubscribers.
 */
function pauseWhileHalted(options: HaltPausesOptions): (() => void)[] {
  const { engine, pauses, events, clock, sleep, publishReadiness } = options;
  const unsubscribers = [
    engine.events.on('auth-failed', () => {
      pauses.set('auth-halt', true);
      events.emit('halted', { reason: 'auth' });
      publishReadiness();
    }),
    engine.events.on('auth-recovered', (event) => {
      pauses.set('auth-halt', false);
      events.emit('unhalted', { reason: 'auth', haltedMs: event.haltedMs });
      publishReadiness();
    }),
    ...options.haltSources.flatMap((source) => [
      source.on('halted', ({ error }) => {
        pauses.set(`${source.name}-halt`, true);
        events.emit('halted', { reason: source.name, error });
        publishReadiness();
      }),
      source.on('recovered', ({ haltedMs }) => {
        pauses.set(`${source.name}-halt`, false);
        events.emit('unhalted', { reason: source.name, haltedMs });
        publishReadiness();
      }),
    ]),
  ];
  if (options.limiter !== undefined) {
    unsubscribers.push(
      options.limiter.on('quota-exhausted', ({ until }) => {
        if (options.shuttingDown()) return;
        const since = clock.now();
        pauses.set('quota-exhausted', true);
        events.emit('halted', { reason: 'quota', until });
        // Callers already wait inside the limiter; pausing only stops the fetching meanwhile.
        void sleep(Math.max(0, until - clock.wallNow()), options.closing)
          .catch(() => {})
          .then(() => {
            pauses.set('quota-exhausted', false);
            events.emit('unhalted', { reason: 'quota', haltedMs: clock.now() - since });
          });
      }),
    );
  }
  return unsubscribers;
}
