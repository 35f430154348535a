import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { DeliveryEngine, DeliveryOutcome } from '../delivery/engine.ts';
import type { Clock, LimiterEventMap, Sleep } from '../delivery/limiter-types.ts';
import { decodeFailureAction } from '../decode/decode-policy.ts';
import type { RecordPreparer } from '../decode/prepare.ts';
import { isBridgeError } from '../errors.ts';
import type { Settlement, SettlementTimes } from '../receipts/receipt.ts';
import type { ReceiptWriter } from '../receipts/writer.ts';
import { CommitScheduler } from './commit-scheduler.ts';
import type { DeadLetterReason, DlqWriter, SourceRecord } from './dlq.ts';
import { RuntimeEvents, type Readiness } from './events.ts';
import { FetchPauses } from './fetch-pauses.ts';
import type { HaltSource, HaltSourceName } from './halt-state.ts';
import { OffsetTracker, recordFingerprint, type TrackedRecord } from './offset-tracker.ts';
import { laneKey, PartitionBuffer, type Lane } from './partition-buffer.ts';
import { recordBytes } from './record-limits.ts';

/**
 * The consumer runtime: fetch, dispatch each record concurrently through the preparer (decode,
 * map or transform, validate) and the delivery engine (or the dead-letter topic), and commit per
 * partition only the highest contiguous settled offset. It is a thin shell: the decisions live in
 * the offset tracker, the partition buffer, the commit scheduler, the preparer (src/decode/), the
 * engine's outcome policy and the DLQ writer. Its parts, in this file's order: pauses, dispatch,
 * commit, assignment and revoke.
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

interface Work {
  readonly record: SourceRecord;
  readonly tracked: TrackedRecord;
}

/** kafkajs' own test for "the group is rebalancing" (errors.js isRebalancing). */
const rebalancingErrors = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
]);

const defaultCommitMaxPending = 20;

export function createRuntime(options: RuntimeOptions): Runtime {
  const { consumer, preparer, engine, dlq, receipts, clock, sleep } = options;
  const events = options.events ?? new RuntimeEvents();
  const revokeTimeoutMs = options.revokeTimeoutMs ?? Math.min(10_000, options.shutdownTimeoutMs);
  const registryBase = options.registryRetryBaseMs ?? 500;
  const registryMax = options.registryRetryMaxMs ?? 10_000;
  const commitMaxPending = options.commitMaxPending ?? defaultCommitMaxPending;

  const tracker = new OffsetTracker();
  const buffer = new PartitionBuffer<Work>(options.maxBuffered);
  const inFlight = new Set<Promise<void>>();
  /** Receipt writes of settled records, not yet acknowledged; revokes and shutdown wait for them too. */
  const receiptsPending = new Set<Promise<void>>();
  /** Per lane, its records waiting for a receipt: they count against the lane's commit bound. */
  const receiptWaits = new Map<Lane<Work>, number>();
  /**
   * Partitions this member may commit: the latest assignment (plus any partition a batch came
   * from, which kafkajs only fetches when assigned). A revoke keeps them until the next
   * assignment is known, since until our JoinGroup nobody else can own them; after it, a
   * partition given to another member is never committed by this one.
   */
  let owned = new Set<string>();
  /** Counts assignments, so a revoke can tell whether the next one arrived while it ran. */
  let generation = 0;
  /** Set during our commitOffsets call: what the broker acknowledged, per partition. */
  let acknowledged: Map<string, string> | undefined;
  /** Aborted at shutdown: ends the waits that belong to no record (the quota pause). */
  const closing = new AbortController();

  const pauses = new FetchPauses({ topics: options.topics, consumer, lanes: buffer, clock, events });
  let joined = false;
  let joinedOnce = false;
  let revokeSinceJoin = false;
  let shuttingDown = false;
  let running = false;
  let stopping: Promise<void> | undefined;
  let revoking: Promise<void> | undefined;
  let lastReadiness: Readiness | undefined;
  let rejectCrashed: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => {
    rejectCrashed = reject;
  });
  crashed.catch(() => {});
  const unsubscribers: (() => void)[] = [];

  const counts = { consumed: 0, delivered: 0, duplicates: 0, deadLettered: 0, commits: 0, receipts: 0 };

  const buffered = () => buffer.queued() + inFlight.size;

  const scheduler = new CommitScheduler({
    maxPending: commitMaxPending,
    intervalMs: options.commitIntervalMs,
    commit,
    schedule: (run, ms) => {
      const timer = setTimeout(run, ms);
      timer.unref();
      return () => clearTimeout(timer);
    },
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
    if (
      lastReadiness === undefined ||
      lastReadiness.ready !== next.ready ||
      lastReadiness.joined !== next.joined ||
      lastReadiness.authOk !== next.authOk ||
      lastReadiness.halts.join() !== next.halts.join() ||
      lastReadiness.shuttingDown !== next.shuttingDown
    ) {
      lastReadiness = next;
      events.emit('ready-state', next);
    }
  }

  // --- Dispatch: records start round-robin over the lanes, at most MAX_IN_FLIGHT at once.
  // Settled records normally wait for a commit only until COMMIT_MAX_PENDING of them do. When
  // they cannot be committed (a record below them is still being worked, say its dead letter
  // waits for the DLQ, or commits fail), the lane goes on until as many wait as its share of
  // the buffer holds (at least COMMIT_MAX_PENDING), then starts nothing new until a commit covers
  // them: a crash never replays more, and the tracker's memory stays bounded. Stopping at
  // COMMIT_MAX_PENDING instead would stall a partition behind every slow record. Records waiting
  // for their receipt count too: they are settled, uncommitted, and replayed by a crash.

  const startable = (lane: Lane<Work>) =>
    tracker.settledUncommitted(lane.topic, lane.partition) + (receiptWaits.get(lane) ?? 0) <
    Math.max(commitMaxPending, buffer.share());

  function pump(): void {
    while (inFlight.size < options.maxInFlight) {
      const next = buffer.take(startable);
      if (next === undefined) return;
      const { item, lane } = next;
      const task: Promise<void> = processRecord(item, lane).finally(() => {
        inFlight.delete(task);
        buffer.finish(lane);
        pauses.checkBackpressure();
        pump();
      });
      inFlight.add(task);
    }
  }

  // --- One record, from decode to delivered or dead-lettered.

  async function deadLetter(
    record: SourceRecord,
    why: DeadLetterReason,
    signal: AbortSignal,
  ): Promise<Settlement> {
    // A letter too large for the topic is replaced by a reference letter with a reason of its own.
    const written = await dlq.write(record, why, signal);
    counts.deadLettered += 1;
    events.emit('dead-lettered', {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      reason: written.reason,
      dlqTopic: dlq.topic,
      ...(why.eventId === undefined ? {} : { eventId: why.eventId }),
      ...(why.status === undefined ? {} : { status: why.status }),
      ...(why.inferredRules === undefined ? {} : { inferredRules: why.inferredRules }),
    });
    return {
      outcome: 'dead-lettered',
      reason: why.reason,
      referenceLetter: written.reference,
      eventId: why.eventId,
      status: why.status,
      requestId: why.requestId,
      attempts: why.attempts ?? 0,
      schemaId: why.schemaId,
    };
  }

  async function prepareWithRetry(record: SourceRecord, signal: AbortSignal) {
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        // Key and headers count too: the dead letter copies them, and a record the DLQ topic
        // cannot take would block its partition behind a write that never succeeds.
        return await preparer.prepare({
          topic: record.topic,
          value: record.value,
          size: recordBytes(record),
        });
      } catch (error) {
        // decode-policy.ts: poison came back as a result; what is left is retried, or waits out
        // a halt (the lookup probes, reported once through its halt source). The rest is a bug.
        const action = decodeFailureAction(error);
        if (!isBridgeError(error) || (action !== 'retry' && action !== 'halt')) throw error;
        if (action === 'halt') {
          await sleep(registryBase, signal);
          continue;
        }
        const retryInMs = Math.min(registryMax, registryBase * 2 ** Math.min(attempt - 1, 16));
        events.emit('registry-unavailable', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          code: error.code,
          error: error.message,
          retryInMs,
        });
        await sleep(retryInMs, signal);
      }
    }
  }

  /** One record to a settled state: delivered, duplicate or dead-lettered. */
  async function handle(record: SourceRecord, signal: AbortSignal): Promise<Settlement> {
    const prepared = await prepareWithRetry(record, signal);
    if (!prepared.ok) return deadLetter(record, prepared.deadLetter, signal);
    const { body, ids } = prepared;
    const outcome: DeliveryOutcome = await engine.deliver(body, {
      signal,
      eventId: body.eventId,
    });
    switch (outcome.kind) {
      case 'delivered':
      case 'duplicate': {
        if (outcome.kind === 'delivered') counts.delivered += 1;
        else counts.duplicates += 1;
        const sentAt = Number(record.timestamp);
        events.emit('delivered', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          eventId: body.eventId,
          outcome: outcome.kind,
          status: outcome.status,
          attempts: outcome.attempts,
          latencyMs: Number.isFinite(sentAt) ? Math.max(0, clock.wallNow() - sentAt) : 0,
        });
        return {
          outcome: outcome.kind,
          eventId: body.eventId,
          status: outcome.status,
          requestId: outcome.requestId,
          attempts: outcome.attempts,
          schemaId: ids.schemaId,
        };
      }
      case 'rejected':
        return deadLetter(
          record,
          {
            reason: 'GONG_REJECTED',
            message: `Gong answered ${outcome.status}`,
            status: outcome.status,
            errors: outcome.errors,
            requestId: outcome.requestId,
            attempts: outcome.attempts,
            inferredRules: outcome.inferredRules,
            ...ids,
          },
          signal,
        );
      case 'invalid':
        return deadLetter(
          record,
          {
            reason: 'GONG_INVALID',
            message: 'the Gong body failed validation',
            errors: outcome.errors,
            inferredRules: outcome.inferredRules,
            ...ids,
          },
          signal,
        );
    }
  }

  async function processRecord(work: Work, lane: Lane<Work>): Promise<void> {
    const { record } = work;
    const { signal } = lane;
    const firstAttemptAt = clock.wallNow();
    for (let attempt = 1; ; attempt++) {
      try {
        const settlement = await handle(record, signal);
        settled(work, lane, settlement, firstAttemptAt);
        return;
      } catch (error) {
        // Interrupted by a revoke or shutdown before it settled: the record stays unsettled, so
        // its offset is not committed and it is consumed again, by whoever owns it next.
        if (signal.aborted || (isBridgeError(error) && error.code === 'SHUTTING_DOWN')) return;
        // Anything else is a bug. Dead-lettering it would hide the bug and lose the event's
        // delivery; retrying keeps it loud (one event per attempt) and loses nothing.
        events.emit('internal-error', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          error: error instanceof Error ? error.message : String(error),
          ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
        });
        try {
          await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt - 1, 5)), signal);
        } catch {
          return;
        }
      }
    }
  }

  // --- Settle: the tracker learns of a settled record at once, or, with a receipts topic, once
  // its receipt is acknowledged. The record has left MAX_IN_FLIGHT by then; it still counts
  // against its lane's bound of settled, uncommitted records while the receipt is on its way.

  function settled(work: Work, lane: Lane<Work>, settlement: Settlement, firstAttemptAt: number): void {
    if (receipts === undefined) {
      scheduler.settled(tracker.complete(work.tracked));
      return;
    }
    const times = { firstAttemptAt, settledAt: clock.wallNow() };
    receiptWaits.set(lane, (receiptWaits.get(lane) ?? 0) + 1);
    let written: Promise<void>;
    try {
      written = receipts.write(work.record, settlement, times);
    } catch (error) {
      written = Promise.reject(error as Error);
    }
    // The common path is one promise per record: written, counted, completed. The acknowledged
    // receipt leaves the lane's bound unchanged (the record moves from waiting for its receipt
    // to settled, uncommitted), so only a receipt that ends otherwise lets the lane start more.
    const task: Promise<void> = written.then(
      () => {
        receiptWritten(work, settlement);
        release(task, lane);
      },
      (error: unknown) =>
        writeReceiptAgain(receipts, work, lane, settlement, times, error).finally(() => {
          release(task, lane);
          pump();
        }),
    );
    receiptsPending.add(task);
  }

  function release(task: Promise<void>, lane: Lane<Work>): void {
    receiptsPending.delete(task);
    const left = (receiptWaits.get(lane) ?? 1) - 1;
    if (left > 0) receiptWaits.set(lane, left);
    else receiptWaits.delete(lane);
  }

  function receiptWritten(work: Work, settlement: Settlement): void {
    const { record } = work;
    counts.receipts += 1;
    events.emit('receipt-written', {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      outcome: settlement.outcome,
    });
    scheduler.settled(tracker.complete(work.tracked));
  }

  /**
   * After a failed receipt write, until the receipt is acknowledged. The batched producer retries
   * what may succeed and probes a topic that refuses every write (a halt), so what reaches here is
   * the producer closing (shutdown: the record stays uncommitted and is consumed again), a
   * receipts topic whose max.message.bytes is below a receipt's size (already reported as
   * `receipt-write-failed` too-large), or a bug. Those are tried again, loudly, 1 s doubling to
   * 30 s, until a revoke or shutdown ends it.
   */
  async function writeReceiptAgain(
    writer: NonNullable<RuntimeOptions['receipts']>,
    work: Work,
    lane: Lane<Work>,
    settlement: Settlement,
    times: SettlementTimes,
    firstError: unknown,
  ): Promise<void> {
    const { record } = work;
    let error = firstError;
    for (let attempt = 1; ; attempt++) {
      if (isBridgeError(error) && error.code === 'SHUTTING_DOWN') return;
      if (!(isBridgeError(error) && error.code === 'PRODUCE_TOO_LARGE')) {
        events.emit('internal-error', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          error: `receipt not written: ${error instanceof Error ? error.message : String(error)}`,
          ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
        });
      }
      try {
        await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt - 1, 5)), lane.signal);
      } catch {
        return;
      }
      try {
        await writer.write(record, settlement, times);
        receiptWritten(work, settlement);
        return;
      } catch (next) {
        error = next;
      }
    }
  }

  // --- Commit: only what the broker acknowledged counts, and only for partitions still owned.

  async function commit(): Promise<boolean> {
    const offsets = tracker.committable((topic, partition) => owned.has(laneKey(topic, partition)));
    if (offsets.length === 0) return true;
    // kafkajs' commitOffsets resolving proves nothing: while a crashed consumer restarts (and
    // until it has joined with an assignment) the runner is not running and the call returns
    // without sending anything, and an error raised while it stops is swallowed the same way.
    // The broker's answer is observable only through the COMMIT_OFFSETS event, emitted after
    // an OffsetCommit came back without error for every partition in it. Only what it lists
    // is marked committed; the rest stays committable and is tried again.
    const acks = new Map<string, string>();
    acknowledged = acks;
    try {
      await consumer.commitOffsets(
        offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      );
    } catch (error) {
      events.emit('commit-failed', {
        error: error instanceof Error ? error.message : String(error),
        partitions: offsets.length,
      });
      return false;
    } finally {
      acknowledged = undefined;
    }
    const confirmed = offsets.filter(
      (entry) => acks.get(laneKey(entry.topic, entry.partition)) === entry.offset,
    );
    if (confirmed.length < offsets.length) {
      events.emit('commit-failed', {
        error:
          'kafkajs returned without the broker acknowledging the commit (consumer restarting or not in the group)',
        partitions: offsets.length - confirmed.length,
      });
    }
    if (confirmed.length > 0) {
      counts.commits += 1;
      for (const entry of confirmed) {
        tracker.markCommitted(entry.topic, entry.partition, entry.offset);
        events.emit('committed', entry);
      }
      // A lane that waited for this commit may start records again.
      pump();
    }
    return confirmed.length === offsets.length;
  }

  /** Records on the wire: Gong calls and dead-letter writes, and receipts not yet acknowledged. */
  const working = () => inFlight.size + receiptsPending.size;

  /** Resolves true if every in-flight record settled, and its receipt was acknowledged, within `ms`. */
  async function waitForInFlight(ms: number): Promise<boolean> {
    const deadline = clock.now() + ms;
    while (working() > 0) {
      const left = deadline - clock.now();
      if (left <= 0) return false;
      const timer = new AbortController();
      await Promise.race([
        Promise.allSettled([...inFlight, ...receiptsPending]),
        sleep(left, timer.signal).catch(() => {}),
      ]);
      timer.abort();
    }
    return true;
  }

  // --- Assignment and revoke.

  function revoke(why: string): Promise<void> {
    if (revoking !== undefined) return revoking;
    // Already revoked for this rebalance (from eachBatch, before kafkajs emitted REBALANCING).
    if (revokeSinceJoin) return Promise.resolve();
    revokeSinceJoin = true;
    joined = false;
    publishReadiness();
    const started = clock.now();
    const revokedIn = generation;
    pauses.set('revoke', true);
    // At once, before kafkajs goes on to rejoin: nothing of the old assignment may begin a call
    // or a dead-letter write from now on; queued records are dropped, whoever owns their
    // partition next fetches them again. Only what is already on the wire is waited for.
    const dropped = buffer.revokeAll(why);
    pauses.checkBackpressure();
    const before = working();
    events.emit('rebalance', { phase: 'revoking', inFlight: before, dropped });
    revoking = (async () => {
      const drained = await waitForInFlight(revokeTimeoutMs);
      const abandoned = drained ? 0 : working();
      await scheduler.flush();
      // Settled records the commit did not cover (it was refused, lost, or the partition now
      // belongs to another member) are carried over, so that a repeat of the same record after
      // the rejoin is not sent again.
      for (const { topic, partition } of tracker.partitions()) tracker.forget(topic, partition);
      // If the next assignment arrived while this revoke ran, what it no longer holds must not
      // be carried: GROUP_JOIN pruned before these were added.
      if (generation !== revokedIn)
        tracker.retainCarried((topic, partition) => owned.has(laneKey(topic, partition)));
      pauses.set('revoke', false);
      events.emit('rebalance', {
        phase: 'revoked',
        settled: before - abandoned,
        abandoned,
        durationMs: clock.now() - started,
      });
    })().finally(() => {
      revoking = undefined;
    });
    return revoking;
  }

  function assigned(partitions: { topic: string; partition: number }[]): void {
    // Kicked out and rejoined without a REBALANCING event (session timeout): treat the old
    // assignment as revoked all the same.
    if (joinedOnce && !revokeSinceJoin) void revoke('rejoined without a rebalance event');
    joinedOnce = true;
    revokeSinceJoin = false;
    generation += 1;
    owned = new Set(partitions.map(({ topic, partition }) => laneKey(topic, partition)));
    buffer.assign(partitions);
    // What was carried for a partition now owned by another member is dropped: it only serves
    // the repeats right after a rejoin, and a partition that comes back later is worked from the
    // group's offset alone.
    tracker.retainCarried((topic, partition) => owned.has(laneKey(topic, partition)));
    joined = true;
    // A restarted kafkajs consumer starts with nothing paused.
    pauses.assigned(partitions.length);
    events.emit('rebalance', { phase: 'assigned', partitions });
    publishReadiness();
  }

  async function eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    // A new generation's batch may carry records the revoke is still settling; let it finish.
    if (revoking !== undefined) await revoking;
    // Learn of a rebalance here, before kafkajs does between batches: then the revoke (drain,
    // commit) completes before kafkajs sends our JoinGroup, i.e. before the partitions are
    // released. kafkajs rethrows the error and rejoins once we rethrow it. (A rebalance noticed
    // by kafkajs' own heartbeat is handled from the REBALANCING event instead, alongside the
    // rejoin.)
    try {
      await heartbeat();
    } catch (error) {
      if (rebalancingErrors.has((error as { type?: string }).type ?? '')) await revoke('rebalance');
      throw error;
    }
    // A batch of an assignment revoked meanwhile: kafkajs fetches it again after the rejoin.
    if (revokeSinceJoin || shuttingDown) return;
    const { topic, partition } = batch;
    owned.add(laneKey(topic, partition));
    const lane = buffer.lane(topic, partition);
    let room = buffer.room(lane);
    let complete = true;
    for (const message of batch.messages) {
      // Beyond the lane's share the rest stays unresolved: kafkajs fetches it again once the
      // partition resumes.
      if (room <= 0 || !isRunning() || isStale()) {
        complete = false;
        break;
      }
      const started = tracker.start(topic, partition, message.offset, recordFingerprint(message));
      if (started.kind === 'new') {
        accept(lane, started.record, message);
        room -= 1;
      } else if (started.kind === 'settled') {
        // Settled by this process before the rejoin (a repeat below the group's offset).
        scheduler.settled(started.committable);
      }
      resolveOffset(message.offset);
    }
    // A batch ending in transaction markers: count the markers as settled so the committed
    // offset can reach the end of the log.
    const last = batch.messages.at(-1);
    if (complete && last !== undefined && BigInt(batch.lastOffset()) > BigInt(last.offset)) {
      const marker = tracker.start(topic, partition, batch.lastOffset());
      if (marker.kind === 'new') scheduler.settled(tracker.complete(marker.record));
      resolveOffset(batch.lastOffset());
    }
    pump();
    pauses.checkBackpressure();
  }

  function accept(lane: Lane<Work>, tracked: TrackedRecord, message: KafkaMessage): void {
    const record: SourceRecord = {
      topic: lane.topic,
      partition: lane.partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key ?? null,
      value: message.value ?? null,
      headers: message.headers,
    };
    lane.push({ record, tracked });
    counts.consumed += 1;
    events.emit('consumed', {
      topic: lane.topic,
      partition: lane.partition,
      offset: message.offset,
      bytes: message.value?.length ?? 0,
    });
  }

  function wireEvents(): void {
    const { REBALANCING, GROUP_JOIN, CRASH, COMMIT_OFFSETS } = consumer.events;
    unsubscribers.push(
      consumer.on(REBALANCING, () => {
        void revoke('rebalance');
      }),
      consumer.on(GROUP_JOIN, (event) => {
        const assignment = event.payload.memberAssignment;
        assigned(
          Object.entries(assignment).flatMap(([topic, list]) =>
            list.map((partition) => ({ topic, partition })),
          ),
        );
      }),
      consumer.on(COMMIT_OFFSETS, (event) => {
        // Only our own commitOffsets calls commit (autoCommit is off); see commit().
        if (acknowledged === undefined) return;
        for (const { topic, partitions } of event.payload.topics) {
          for (const { partition, offset } of partitions) {
            acknowledged.set(laneKey(topic, Number(partition)), String(offset));
          }
        }
      }),
      consumer.on(CRASH, (event) => {
        // kafkajs has already left the group (it disconnects before it restarts or gives up):
        // the partitions may be someone else's by now, and pause/resume are refused until the
        // restarted consumer has joined.
        owned = new Set();
        pauses.suspend();
        void revoke('the consumer crashed');
        if (event.payload.restart) return;
        joined = false;
        publishReadiness();
        events.emit('crashed', { error: event.payload.error.message });
        rejectCrashed(event.payload.error);
      }),
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
      ...haltSources.flatMap((source) => [
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
    );
    if (options.limiter !== undefined) {
      unsubscribers.push(
        options.limiter.on('quota-exhausted', ({ until }) => {
          if (shuttingDown) return;
          const since = clock.now();
          pauses.set('quota-exhausted', true);
          events.emit('halted', { reason: 'quota', until });
          // Callers already wait inside the limiter; pausing only stops the fetching meanwhile.
          void sleep(Math.max(0, until - clock.wallNow()), closing.signal)
            .catch(() => {})
            .then(() => {
              pauses.set('quota-exhausted', false);
              events.emit('unhalted', { reason: 'quota', haltedMs: clock.now() - since });
            });
        }),
      );
    }
  }

  function settledUncommitted(): number {
    let total = 0;
    for (const { topic, partition } of tracker.partitions())
      total += tracker.settledUncommitted(topic, partition);
    return total + receiptsPending.size;
  }

  return {
    events,
    crashed,
    readiness,
    stats: () => ({
      ...counts,
      buffered: buffered(),
      inFlight: inFlight.size,
      pausedPartitions: pauses.pausedPartitions(),
      settledUncommitted: settledUncommitted(),
      receiptsPending: receiptsPending.size,
    }),
    async start() {
      wireEvents();
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
        if (revoking !== undefined) await revoking;
        await waitForInFlight(options.shutdownTimeoutMs);
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
