import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { DeliveryEngine, DeliveryOutcome } from '../delivery/engine.ts';
import type { Clock, LimiterEventMap, Sleep } from '../delivery/limiter-types.ts';
import { decodeFailureAction } from '../decode/decode-policy.ts';
import type { RecordPreparer } from '../decode/prepare.ts';
import { isBridgeError } from '../errors.ts';
import type { DeadLetterReason, DlqWriter, SourceRecord } from './dlq.ts';
import type { HaltSource, HaltSourceName } from './halt-state.ts';
import { RuntimeEvents, type PauseReason, type Readiness } from './events.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { recordBytes } from './record-limits.ts';

/**
 * The consumer runtime: fetch, dispatch each record concurrently through the preparer (decode,
 * map or transform, validate) and the delivery engine (or the dead-letter topic), and commit per
 * partition only the highest contiguous settled offset. It is a thin shell: the decisions live in
 * the offset tracker, the preparer (src/decode/), the engine's outcome policy and the DLQ writer.
 *
 * How kafkajs is driven:
 *  - eachBatch returns as soon as the batch's records are queued (eachBatchAutoResolve off,
 *    resolveOffset per accepted record). resolveOffset only moves kafkajs' fetch position; with
 *    autoCommit off nothing reaches the broker except our own commitOffsets calls.
 *  - Memory is bounded by pausing every assigned partition while more than MAX_BUFFERED records
 *    are unsettled, and resuming below half of it. MAX_IN_FLIGHT bounds the records being worked.
 *  - kafkajs has no revoke callback and uses the eager protocol (a rebalance revokes every
 *    partition). The revoke: the queued records are dropped (they are refetched by whoever gets
 *    the partition), in-flight work gets revokeTimeoutMs to settle, what settled is committed,
 *    and the partition state is forgotten. It runs before the rejoin when eachBatch's heartbeat
 *    is what notices the rebalance, and alongside it when kafkajs notices first (while every
 *    partition is paused) and only tells us through REBALANCING. Batches of the new generation
 *    wait until the revoke is done; anything they repeat below what this process had settled is
 *    counted as settled without being sent again, anything above it comes back from Gong as a 409.
 *  - A commit counts only once the broker acknowledged it (kafkajs' COMMIT_OFFSETS event). While
 *    kafkajs restarts a crashed consumer, commitOffsets resolves without committing anything.
 */

export interface RuntimeOptions {
  /** A kafkajs consumer built with the group id; the runtime connects, subscribes and runs it. */
  readonly consumer: Consumer;
  readonly topics: readonly string[];
  /** Each record's body, or why it is dead-lettered (src/decode/prepare.ts). */
  readonly preparer: RecordPreparer;
  readonly engine: Pick<DeliveryEngine, 'deliver' | 'isHalted' | 'events'>;
  readonly dlq: DlqWriter;
  /** The limiter's events, to pause fetching while the daily quota is spent. */
  readonly limiter?: {
    on<K extends 'quota-exhausted'>(event: K, listener: (payload: LimiterEventMap[K]) => void): () => void;
  };
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly maxInFlight: number;
  readonly maxBuffered: number;
  readonly commitIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  /** Bounded wait for in-flight records of revoked partitions; default min(10 s, shutdown timeout). */
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
}

export interface Runtime {
  readonly events: RuntimeEvents;
  /** Connects, subscribes and joins the group; resolves once consuming has started. */
  start(): Promise<void>;
  /**
   * Graceful stop: fetching stops, in-flight records get SHUTDOWN_TIMEOUT_MS to settle, settled
   * offsets are committed, then the consumer disconnects. Idempotent.
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
}

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** kafkajs' own test for "the group is rebalancing" (errors.js isRebalancing). */
const rebalancingErrors = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
]);

export function createRuntime(options: RuntimeOptions): Runtime {
  const { consumer, preparer, engine, dlq, clock, sleep } = options;
  const events = options.events ?? new RuntimeEvents();
  const revokeTimeoutMs = options.revokeTimeoutMs ?? Math.min(10_000, options.shutdownTimeoutMs);
  const registryBase = options.registryRetryBaseMs ?? 500;
  const registryMax = options.registryRetryMaxMs ?? 10_000;
  const resumeBelow = Math.max(0, Math.floor(options.maxBuffered / 2));

  const tracker = new OffsetTracker();
  /**
   * Per partition, an offset below which this process settled every record, taken from the
   * tracker when a revoke forgets the partition. It says nothing about what the broker holds: a
   * commit may have been lost (made while kafkajs was restarting the consumer, or refused) or may
   * land after the new generation read the committed offset. So after a rejoin, kafkajs resumes
   * from the group's real committed offset, and the records it repeats below this mark are
   * registered in the tracker as settled without being sent again. The tracker therefore rebuilds
   * its contiguity from where kafkajs actually resumed, and the next commit moves the group past
   * them. (Skipping them without registering them left nothing to commit below the mark, so a
   * partition whose commit had been lost never committed again.) Dropping the mark instead would
   * also be correct, but every repeat would cost a Gong call (409) or a second dead letter.
   */
  const settledBelow = new Map<string, bigint>();
  /** Set during our commitOffsets call: what the broker acknowledged, per partition. */
  let acknowledged: Map<string, string> | undefined;
  const queue: Work[] = [];
  let queueHead = 0;
  const inFlight = new Set<Promise<void>>();
  /** Aborted when a revoke or shutdown gives up waiting: parked records stop and stay uncommitted. */
  let workAbort = new AbortController();

  const pauseReasons = new Map<PauseReason, number>();
  let pausedSince = 0;
  let joined = false;
  let joinedOnce = false;
  let revokeSinceJoin = false;
  let shuttingDown = false;
  let running = false;
  /** Partitions of the current assignment: a pause stops all of them. */
  let assignedPartitions = 0;
  let stopping: Promise<void> | undefined;
  let revoking: Promise<void> | undefined;
  let commitChain: Promise<void> = Promise.resolve();
  let commitTimer: NodeJS.Timeout | undefined;
  let lastReadiness: Readiness | undefined;
  let rejectCrashed: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => {
    rejectCrashed = reject;
  });
  crashed.catch(() => {});
  const unsubscribers: (() => void)[] = [];

  const counts = { consumed: 0, delivered: 0, duplicates: 0, deadLettered: 0, commits: 0 };

  const queued = () => queue.length - queueHead;
  const buffered = () => queued() + inFlight.size;

  /** Dependencies that refuse us (dlq.ts, the registry): each pauses fetching and makes us unready. */
  const haltSources = [dlq.halts, preparer.halts].filter(
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

  function topicsToPause() {
    return options.topics.map((topic) => ({ topic }));
  }

  function setPause(reason: PauseReason, on: boolean): void {
    const had = pauseReasons.size > 0;
    if (on) {
      if (pauseReasons.has(reason)) return;
      pauseReasons.set(reason, clock.now());
      if (!had) {
        pausedSince = clock.now();
        // kafkajs refuses pause/resume before run(); start() applies a pause made before it.
        if (running) consumer.pause(topicsToPause());
      }
      events.emit('paused', { reason, partitions: assignedPartitions });
      return;
    }
    if (!pauseReasons.delete(reason)) return;
    if (pauseReasons.size === 0) {
      if (running) consumer.resume(topicsToPause());
      events.emit('resumed', { reason, pausedMs: clock.now() - pausedSince });
    }
  }

  function checkBackpressure(): void {
    const size = buffered();
    if (size >= options.maxBuffered) setPause('backpressure', true);
    else if (size <= resumeBelow) setPause('backpressure', false);
  }

  function pump(): void {
    while (inFlight.size < options.maxInFlight && queued() > 0) {
      const work = queue[queueHead]!;
      queueHead += 1;
      const task: Promise<void> = processRecord(work, workAbort.signal).finally(() => {
        inFlight.delete(task);
        checkBackpressure();
        pump();
      });
      inFlight.add(task);
    }
    if (queueHead > 1024 && queueHead * 2 > queue.length) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
  }

  function settle(record: SourceRecord): void {
    tracker.complete(record.topic, record.partition, record.offset);
  }

  async function deadLetter(record: SourceRecord, why: DeadLetterReason, signal: AbortSignal) {
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
  async function handle(record: SourceRecord, signal: AbortSignal): Promise<void> {
    const prepared = await prepareWithRetry(record, signal);
    if (!prepared.ok) {
      await deadLetter(record, prepared.deadLetter, signal);
      return;
    }
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
        return;
      }
      case 'rejected':
        await deadLetter(
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
        return;
      case 'invalid':
        await deadLetter(
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
        return;
    }
  }

  async function processRecord(work: Work, signal: AbortSignal): Promise<void> {
    const { record } = work;
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(record, signal);
        settle(record);
        return;
      } catch (error) {
        // Interrupted by shutdown or revoke: the record stays unsettled, so its offset is not
        // committed and it is consumed again later.
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

  function commit(): Promise<void> {
    commitChain = commitChain.then(async () => {
      const offsets = tracker.committable();
      if (offsets.length === 0) return;
      // kafkajs' commitOffsets resolving proves nothing: while a crashed consumer restarts (and
      // until it has joined with an assignment) the runner is not running and the call returns
      // without sending anything, and an error raised while it stops is swallowed the same way.
      // The broker's answer is observable only through the COMMIT_OFFSETS event, emitted after
      // an OffsetCommit came back without error for every partition in it. Only what it lists
      // is marked committed; the rest stays committable and is tried again at the next commit.
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
        return;
      } finally {
        acknowledged = undefined;
      }
      const confirmed = offsets.filter(
        (entry) => acks.get(partitionKey(entry.topic, entry.partition)) === entry.offset,
      );
      if (confirmed.length < offsets.length) {
        events.emit('commit-failed', {
          error:
            'kafkajs returned without the broker acknowledging the commit (consumer restarting or not in the group)',
          partitions: offsets.length - confirmed.length,
        });
      }
      if (confirmed.length === 0) return;
      counts.commits += 1;
      for (const entry of confirmed) {
        tracker.markCommitted(entry.topic, entry.partition, entry.offset);
        events.emit('committed', entry);
      }
    });
    return commitChain;
  }

  /** Resolves true if every in-flight record settled within `ms`. */
  async function waitForInFlight(ms: number): Promise<boolean> {
    const deadline = clock.now() + ms;
    while (inFlight.size > 0) {
      const left = deadline - clock.now();
      if (left <= 0) return false;
      const timer = new AbortController();
      await Promise.race([Promise.allSettled([...inFlight]), sleep(left, timer.signal).catch(() => {})]);
      timer.abort();
    }
    return true;
  }

  function dropQueued(): number {
    const dropped = queued();
    queue.length = 0;
    queueHead = 0;
    return dropped;
  }

  function revoke(): Promise<void> {
    if (revoking !== undefined) return revoking;
    // Already revoked for this rebalance (from eachBatch, before kafkajs emitted REBALANCING).
    if (revokeSinceJoin) return Promise.resolve();
    revokeSinceJoin = true;
    joined = false;
    publishReadiness();
    revoking = (async () => {
      const started = clock.now();
      setPause('revoke', true);
      const dropped = dropQueued();
      // The dropped records no longer count against MAX_BUFFERED; without this a backpressure
      // pause would wait for in-flight records to finish before it noticed.
      checkBackpressure();
      const before = inFlight.size;
      events.emit('rebalance', { phase: 'revoking', inFlight: before, dropped });
      const settled = await waitForInFlight(revokeTimeoutMs);
      const abandoned = settled ? 0 : inFlight.size;
      if (!settled) {
        workAbort.abort();
        workAbort = new AbortController();
      }
      await commit();
      // Whether or not that commit reached the broker, what settled stays settled: keep the mark
      // so the repeats the next generation fetches are not sent to Gong again.
      for (const { topic, partition } of tracker.partitions()) {
        const position = tracker.position(topic, partition);
        const key = partitionKey(topic, partition);
        const previous = settledBelow.get(key);
        if (position !== undefined && (previous === undefined || BigInt(position) > previous)) {
          settledBelow.set(key, BigInt(position));
        }
        tracker.forget(topic, partition);
      }
      setPause('revoke', false);
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
    // while every partition is paused is handled from the REBALANCING event instead, alongside
    // the rejoin.)
    try {
      await heartbeat();
    } catch (error) {
      if (rebalancingErrors.has((error as { type?: string }).type ?? '')) await revoke();
      throw error;
    }
    const { topic, partition } = batch;
    const settledMark = settledBelow.get(partitionKey(topic, partition));
    let complete = true;
    for (const message of batch.messages) {
      if (shuttingDown || !isRunning() || isStale()) {
        complete = false;
        break;
      }
      if (settledMark !== undefined && BigInt(message.offset) < settledMark) {
        // Settled before the rejoin (see settledBelow): tracked as settled, not sent again.
        if (tracker.start(topic, partition, message.offset)) {
          tracker.complete(topic, partition, message.offset);
        }
        resolveOffset(message.offset);
        continue;
      }
      if (!tracker.start(topic, partition, message.offset)) {
        resolveOffset(message.offset);
        continue;
      }
      accept(topic, partition, message);
      resolveOffset(message.offset);
    }
    // A batch ending in transaction markers: count the markers as settled so the committed
    // offset can reach the end of the log.
    const last = batch.messages.at(-1);
    if (complete && last !== undefined && BigInt(batch.lastOffset()) > BigInt(last.offset)) {
      if (tracker.start(topic, partition, batch.lastOffset())) {
        tracker.complete(topic, partition, batch.lastOffset());
      }
      resolveOffset(batch.lastOffset());
    }
    pump();
    checkBackpressure();
  }

  function accept(topic: string, partition: number, message: KafkaMessage): void {
    const record: SourceRecord = {
      topic,
      partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key ?? null,
      value: message.value ?? null,
      headers: message.headers,
    };
    queue.push({ record });
    counts.consumed += 1;
    events.emit('consumed', { topic, partition, offset: message.offset, bytes: message.value?.length ?? 0 });
  }

  function wireEvents(): void {
    const { REBALANCING, GROUP_JOIN, CRASH, COMMIT_OFFSETS } = consumer.events;
    unsubscribers.push(
      consumer.on(REBALANCING, () => {
        void revoke();
      }),
      consumer.on(GROUP_JOIN, (event) => {
        // Kicked out and rejoined without a REBALANCING event (session timeout): treat the old
        // assignment as revoked all the same.
        if (joinedOnce && !revokeSinceJoin) void revoke();
        joinedOnce = true;
        revokeSinceJoin = false;
        const assignment = event.payload.memberAssignment;
        const partitions = Object.entries(assignment).flatMap(([topic, list]) =>
          list.map((partition) => ({ topic, partition })),
        );
        const assigned = new Set(partitions.map(({ topic, partition }) => partitionKey(topic, partition)));
        // The marks only serve the repeats right after a rejoin. A partition no longer assigned
        // loses its mark, so one that comes back (or a topic recreated under the same name) is
        // worked from the group's offset alone.
        for (const key of [...settledBelow.keys()]) if (!assigned.has(key)) settledBelow.delete(key);
        joined = true;
        assignedPartitions = partitions.length;
        events.emit('rebalance', { phase: 'assigned', partitions });
        publishReadiness();
      }),
      consumer.on(COMMIT_OFFSETS, (event) => {
        // Only our own commitOffsets calls commit (autoCommit is off); see commit().
        if (acknowledged === undefined) return;
        for (const { topic, partitions } of event.payload.topics) {
          for (const { partition, offset } of partitions) {
            acknowledged.set(partitionKey(topic, Number(partition)), String(offset));
          }
        }
      }),
      consumer.on(CRASH, (event) => {
        if (event.payload.restart) return;
        joined = false;
        publishReadiness();
        events.emit('crashed', { error: event.payload.error.message });
        rejectCrashed(event.payload.error);
      }),
      engine.events.on('auth-failed', () => {
        setPause('auth-halt', true);
        events.emit('halted', { reason: 'auth' });
        publishReadiness();
      }),
      engine.events.on('auth-recovered', (event) => {
        setPause('auth-halt', false);
        events.emit('unhalted', { reason: 'auth', haltedMs: event.haltedMs });
        publishReadiness();
      }),
      ...haltSources.flatMap((source) => [
        source.on('halted', ({ error }) => {
          setPause(`${source.name}-halt`, true);
          events.emit('halted', { reason: source.name, error });
          publishReadiness();
        }),
        source.on('recovered', ({ haltedMs }) => {
          setPause(`${source.name}-halt`, false);
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
          setPause('quota-exhausted', true);
          events.emit('halted', { reason: 'quota', until });
          // Callers already wait inside the limiter; pausing only stops the fetching meanwhile.
          void sleep(Math.max(0, until - clock.wallNow()), workAbort.signal)
            .catch(() => {})
            .then(() => {
              setPause('quota-exhausted', false);
              events.emit('unhalted', { reason: 'quota', haltedMs: clock.now() - since });
            });
        }),
      );
    }
  }

  return {
    events,
    crashed,
    readiness,
    stats: () => ({ ...counts, buffered: buffered(), inFlight: inFlight.size }),
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
      if (pauseReasons.size > 0) consumer.pause(topicsToPause());
      commitTimer = setInterval(() => {
        void commit();
      }, options.commitIntervalMs);
      commitTimer.unref();
    },
    stop() {
      stopping ??= (async () => {
        shuttingDown = true;
        publishReadiness();
        setPause('shutdown', true);
        dropQueued();
        if (revoking !== undefined) await revoking;
        const settled = await waitForInFlight(options.shutdownTimeoutMs);
        if (!settled) workAbort.abort();
        if (commitTimer !== undefined) clearInterval(commitTimer);
        await commit();
        for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
        // Before run() started, kafkajs refuses to disconnect a consumer group it never joined.
        await consumer.disconnect().catch((error: unknown) => {
          if (running) throw error;
        });
      })();
      return stopping;
    },
  };
}
