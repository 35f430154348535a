import { CompressionTypes, type IHeaders, type Kafka, type Producer, type ProducerConfig } from 'kafkajs';
import type { Clock, Sleep } from '../shared/time.ts';
import { BridgeError } from '../errors.ts';
import { HaltState, type HaltSource, type HaltSourceName } from './halt-state.ts';
import { javaCompatiblePartitioner } from './partitioner.ts';
import { classifyProduceError, type ProduceFailureClass } from './producer-error-policy.ts';
import { recordBytes } from './record-limits.ts';

/**
 * A serialized, batched producer for records the bridge must not lose: dead letters, replays to a
 * source topic, and later receipts. Each `send` resolves only once the broker acknowledged (acks
 * all) the batch that carried its message.
 *
 * Why serialized: at most one produce request is outstanding. Messages that arrive meanwhile wait
 * and go out together in the next batch, so a burst costs a few round trips, not one each, and
 * every failure is seen and classified in one place (producer-error-policy.ts) instead of by
 * many concurrent senders.
 *
 * Why not idempotent (createNonIdempotentProducer below): kafkajs 2.2.4's idempotent producer rolls a
 * partition's sequence number back when a produce request fails, also when the broker had
 * already stored it (a lost reply). The next request reuses that number and the broker drops it
 * as a duplicate while acknowledging it: a write that resolves and is not stored. Sending one
 * request at a time avoids the race between concurrent sends, but not the rest of it: a request
 * spanning partitions is rolled back for every partition when one of them fails, so the next
 * batch is a different one under the same numbers. Without sequence numbers a retry after a lost
 * reply stores the batch twice, and that is the whole cost: a duplicate dead letter is harmless
 * (replay goes by eventId and Gong answers 409); a dropped one is lost. docs/consumer-runtime.md,
 * "The dead-letter producer".
 *
 * kafkajs' own retries are off: a failure surfaces here at once, is reported (metrics, logs) and
 * retried with the policy's backoff. What ends the retrying: an acknowledgement; a message that
 * is too large alone (rejected to the caller); a topic that refuses every write (a halt: probed
 * until a write succeeds, or rejected in `fail` mode for one-shot commands); the caller's abort
 * signal; close().
 */

export interface OutgoingMessage {
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: IHeaders | undefined;
}

export interface ProducerSendFailure {
  readonly topic: string;
  readonly outcome: ProduceFailureClass;
  /** The broker error type or kafkajs error name the policy matched. */
  readonly matched: string;
  /** No policy row matched (treated by kafkajs' retriable flag); worth a loud log line. */
  readonly unknown: boolean;
  readonly error: string;
  /** Attempts at this batch so far. */
  readonly attempt: number;
  readonly messages: number;
  /** When the batch is sent again; 0 when it is not (split, rejected). */
  readonly retryInMs: number;
}

export interface BatchedProducerOptions {
  /** A kafkajs producer built by createNonIdempotentProducer (or one as safe); connected by the caller. */
  readonly producer: Pick<Producer, 'send'>;
  readonly topic: string;
  readonly clock: Pick<Clock, 'now'>;
  readonly sleep: Sleep;
  /** Which halt this producer reports (the runtime pauses for it). */
  readonly haltName?: HaltSourceName;
  /**
   * `probe` (a service): a topic that refuses every write is a halt; messages wait and the batch is
   * sent again every probe interval. `fail` (a one-shot command): what waits is rejected with
   * TOPIC_UNWRITABLE.
   */
  readonly onHalt?: 'probe' | 'fail';
  readonly compression?: CompressionTypes;
  readonly maxBatchMessages?: number;
  /** Key, value and header bytes per batch; a message larger than this goes alone. */
  readonly maxBatchBytes?: number;
  /**
   * How long a batch may wait for more messages before it goes (a full batch goes at once), as
   * Kafka's linger.ms. Default 0: a batch goes as soon as the previous request ended. For many
   * small records that are not urgent (receipts), a few milliseconds make batches several times
   * larger, and the cost of a produce request is paid by many more records.
   */
  readonly lingerMs?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly probeBaseMs?: number;
  readonly probeMaxMs?: number;
  /** Told about every failed request (metrics, logs). */
  readonly onFailure?: (failure: ProducerSendFailure) => void;
}

export interface BatchedProducer {
  readonly topic: string;
  /** Halted while the topic refuses every write (probe mode). */
  readonly halts: HaltSource;
  /**
   * Resolves once the broker acknowledged the message. Rejects with PRODUCE_TOO_LARGE when the
   * message alone exceeds what the topic accepts, TOPIC_UNWRITABLE in `fail` mode, and
   * SHUTTING_DOWN on abort or close (the message may or may not have been stored by then).
   */
  send(message: OutgoingMessage, signal?: AbortSignal): Promise<void>;
  /** Stops retrying; everything waiting is rejected with SHUTTING_DOWN. */
  close(): void;
}

/**
 * The kafkajs producer behind a BatchedProducer: not idempotent (see above), never creating
 * topics, and without kafkajs' retries so every failure reaches the policy. Its partitioner
 * places keys as kafkajs' default does, at a fraction of the cost (partitioner.ts).
 */
export const nonIdempotentProducerConfig: ProducerConfig = Object.freeze({
  idempotent: false,
  allowAutoTopicCreation: false,
  retry: { retries: 0 },
  createPartitioner: javaCompatiblePartitioner,
});

export function createNonIdempotentProducer(kafka: Pick<Kafka, 'producer'>): Producer {
  return kafka.producer({ ...nonIdempotentProducerConfig, retry: { ...nonIdempotentProducerConfig.retry } });
}

interface Entry {
  readonly message: OutgoingMessage;
  readonly bytes: number;
  settled: boolean;
  resolve(): void;
  reject(error: BridgeError): void;
}

export function createBatchedProducer(options: BatchedProducerOptions): BatchedProducer {
  const { producer, topic, clock, sleep } = options;
  const maxMessages = options.maxBatchMessages ?? 500;
  const maxBytes = options.maxBatchBytes ?? 1_048_576;
  const retryBase = options.retryBaseMs ?? 200;
  const retryMax = options.retryMaxMs ?? 10_000;
  const probeBase = options.probeBaseMs ?? 1_000;
  const probeMax = options.probeMaxMs ?? 10_000;
  const onHalt = options.onHalt ?? 'probe';
  const lingerMs = options.lingerMs ?? 0;
  const halts = new HaltState(options.haltName ?? 'dlq', () => clock.now());
  const closing = new AbortController();
  const queue: Entry[] = [];
  const inBatch = new Set<Entry>();
  let running = false;
  /** Set while the next batch lingers; aborted when it is full. */
  let lingering: AbortController | undefined;

  function takeBatch(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    while (queue.length > 0 && batch.length < maxMessages) {
      const entry = queue[0]!;
      if (entry.settled) {
        queue.shift();
        continue;
      }
      if (batch.length > 0 && bytes + entry.bytes > maxBytes) break;
      queue.shift();
      batch.push(entry);
      bytes += entry.bytes;
    }
    return batch;
  }

  /**
   * Sends one batch until it is acknowledged, split, rejected or the producer is closed. A batch
   * is sent whole even after some of its callers gave up (revoke, shutdown): writing their letters
   * costs at most a duplicate, and it keeps the probe of a halt going without depending on any
   * caller still waiting (fetching is paused during a halt, so none may come).
   */
  async function sendBatch(batch: Entry[]): Promise<void> {
    let probeDelay = probeBase;
    for (const entry of batch) inBatch.add(entry);
    try {
      for (let attempt = 1; !closing.signal.aborted; attempt++) {
        const failed = await attemptBatch(batch, attempt, probeDelay);
        if (failed === undefined) return;
        if (failed === 'halt') probeDelay = Math.min(probeMax, probeDelay * 2);
      }
    } finally {
      for (const entry of batch) inBatch.delete(entry);
    }
  }

  /** One request; undefined when the batch is done with, else the class of the failure retried. */
  async function attemptBatch(
    batch: Entry[],
    attempt: number,
    probeDelay: number,
  ): Promise<'retry' | 'halt' | undefined> {
    try {
      await producer.send({
        topic,
        acks: -1,
        ...(options.compression === undefined ? {} : { compression: options.compression }),
        messages: batch.map(({ message }) => ({
          key: message.key,
          value: message.value,
          ...(message.headers === undefined ? {} : { headers: message.headers }),
        })),
      });
    } catch (error) {
      const failure = classifyProduceError(error);
      const detail = `${failure.matched}: ${error instanceof Error ? error.message : String(error)}`;
      const reportAs = (retryInMs: number) =>
        options.onFailure?.({
          topic,
          outcome: failure.outcome,
          matched: failure.matched,
          unknown: failure.unknown === true,
          error: error instanceof Error ? error.message : String(error),
          attempt,
          messages: batch.length,
          retryInMs,
        });
      if (failure.outcome === 'too-large') {
        reportAs(0);
        if (batch.length === 1) {
          batch[0]!.reject(
            new BridgeError(
              'PRODUCE_TOO_LARGE',
              `${topic} refused a record of ${batch[0]!.bytes} bytes for its size`,
              {
                cause: error,
              },
            ),
          );
          return undefined;
        }
        // Which message is too large is not said; each goes alone, so only that one is refused.
        for (const entry of batch) await sendBatch([entry]);
        return undefined;
      }
      if (failure.outcome === 'halt' && onHalt === 'fail') {
        reportAs(0);
        const refused = new BridgeError('TOPIC_UNWRITABLE', `${topic} refuses writes (${detail})`, {
          cause: error,
        });
        for (const entry of batch) entry.reject(refused);
        return undefined;
      }
      if (failure.outcome === 'halt') halts.halt(detail);
      const retryInMs =
        failure.outcome === 'halt'
          ? probeDelay
          : Math.min(retryMax, retryBase * 2 ** Math.min(attempt - 1, 16));
      reportAs(retryInMs);
      try {
        await sleep(retryInMs, closing.signal);
      } catch {
        return undefined;
      }
      return failure.outcome;
    }
    halts.recover();
    for (const entry of batch) entry.resolve();
    return undefined;
  }

  async function run(): Promise<void> {
    if (running) return;
    running = true;
    try {
      for (;;) {
        // Without a linger the batch is taken at once, in the same tick as the send that started it.
        if (lingerMs > 0) await linger();
        const batch = takeBatch();
        if (batch.length === 0) return;
        await sendBatch(batch);
      }
    } finally {
      running = false;
    }
  }

  /** Gives the next batch up to lingerMs to fill; it goes at once when full, or on close(). */
  async function linger(): Promise<void> {
    if (queue.length >= maxMessages || closing.signal.aborted) return;
    lingering = new AbortController();
    try {
      await sleep(lingerMs, AbortSignal.any([lingering.signal, closing.signal]));
    } catch {
      // Cut short: the batch is full, or the producer closes.
    } finally {
      lingering = undefined;
    }
  }

  function shuttingDown(cause?: unknown): BridgeError {
    return new BridgeError('SHUTTING_DOWN', `write to ${topic} interrupted before it was acknowledged`, {
      ...(cause === undefined ? {} : { cause }),
    });
  }

  return {
    topic,
    halts,
    send(message, signal) {
      if (closing.signal.aborted) return Promise.reject(shuttingDown());
      if (signal?.aborted === true) return Promise.reject(shuttingDown(signal.reason));
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => entry.reject(shuttingDown(signal?.reason));
        const entry: Entry = {
          message,
          bytes: recordBytes({
            key: typeof message.key === 'string' ? Buffer.from(message.key) : message.key,
            value: typeof message.value === 'string' ? Buffer.from(message.value) : message.value,
            headers: message.headers,
          }),
          settled: false,
          resolve() {
            if (entry.settled) return;
            entry.settled = true;
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          reject(error) {
            if (entry.settled) return;
            entry.settled = true;
            signal?.removeEventListener('abort', onAbort);
            reject(error);
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(entry);
        if (lingering !== undefined && queue.length >= maxMessages) lingering.abort();
        void run();
      });
    },
    close() {
      if (closing.signal.aborted) return;
      closing.abort();
      for (const entry of [...queue, ...inBatch]) entry.reject(shuttingDown());
      queue.length = 0;
    },
  };
}

/** gzip: the only codec kafkajs reads without plugins, so replay-dlq and any kafkajs tool can read it. */
export const batchCompression = CompressionTypes.GZIP;
