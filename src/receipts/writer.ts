import type avro from 'avsc';
import type { Admin } from 'kafkajs';
import { BridgeError } from '../errors.ts';
import type { BatchedProducer, BatchedProducerOptions } from '../kafka/batched-producer.ts';
import type { SourceRecord } from '../kafka/dlq.ts';
import type { HaltSource } from '../kafka/halt-state.ts';
import { ensureTopic } from '../kafka/topics.ts';
import {
  buildReceipt,
  encodeReceipt,
  receiptKey,
  receiptSchema,
  receiptType,
  type ReceiptContext,
  type Settlement,
  type SettlementTimes,
} from './receipt.ts';

/**
 * The receipts topic (KAFKA_RECEIPTS_TOPIC): one receipt per settled record, written before the
 * record's offset may be committed, with the same care as dead letters. Receipts go through the
 * serialized, batched, non-idempotent producer the dead letters use (batched-producer.ts): one
 * produce request outstanding, the receipts that settle meanwhile sent together in the next one,
 * so a burst costs a round trip per batch, not per record; every failure is classified by
 * producer-error-policy.ts; a topic that refuses every write halts delivery (pause, unready,
 * alert) and is probed until a write succeeds. A lost reply stores a batch twice: receipts may
 * repeat, never go missing.
 *
 * The value is Avro in the Confluent wire format, its schema (schemas/receipt.v1.avsc) registered
 * under `<topic>-value`, so any registry-aware deserializer reads it; the key is the eventId as a
 * plain UTF-8 string (the source coordinates when there is none).
 */

export interface ReceiptWriter {
  readonly topic: string;
  /** Halted while the receipts topic refuses every write. */
  readonly halts: HaltSource;
  /**
   * Registers the receipt schema (once; later calls share the result). `run` calls it at start-up
   * so a registry that refuses it stops the start with a message; write() waits for it too.
   */
  prepare(): Promise<number>;
  /**
   * Resolves once the broker acknowledged the receipt (acks=all). Rejects with SHUTTING_DOWN when
   * the producer closed first, PRODUCE_TOO_LARGE when the topic refuses a receipt for its size.
   */
  write(record: SourceRecord, settlement: Settlement, times: SettlementTimes): Promise<void>;
}

/**
 * How `run` sets up the receipts topic's batched producer. What receipts cost the bridge is
 * kafkajs' work per record and per produce request (docs/benchmarks.md), so:
 *  - a batch lingers up to 20 ms: receipts are not urgent (they only hold a commit, which waits
 *    for COMMIT_INTERVAL_MS anyway), and batches several times larger cost far fewer requests;
 *  - no compression, unlike dead letters: a receipt is about 200 bytes, and gzip took 8% of the
 *    bridge's CPU profile with receipts on. A topic that should store them compressed gets
 *    compression.type set, and the broker compresses.
 */
export const receiptsProducerOptions = {
  haltName: 'receipts',
  onHalt: 'probe',
  lingerMs: 20,
} as const satisfies Partial<BatchedProducerOptions>;

export interface ReceiptWriterOptions {
  /** Serialized and batched; its topic is the receipts topic. */
  readonly producer: Pick<BatchedProducer, 'send' | 'halts' | 'topic'>;
  /** Registers `schema` under `subject`, resolving its id (registerAvroSchema with the run's registry). */
  readonly register: (subject: string, schema: avro.Schema) => Promise<number>;
  readonly context: ReceiptContext;
}

/** TopicNameStrategy, as for the input topics: the value schema of `topic`. */
export const receiptsSubject = (topic: string): string => `${topic}-value`;

export function createReceiptWriter(options: ReceiptWriterOptions): ReceiptWriter {
  const { producer, context } = options;
  const type = receiptType();
  let registering: Promise<number> | undefined;
  /** Known once registered: a write then goes straight to the producer (one per settled record). */
  let schemaId: number | undefined;

  function prepare(): Promise<number> {
    registering ??= options.register(receiptsSubject(producer.topic), receiptSchema()).then(
      (id) => (schemaId = id),
      (error: unknown) => {
        // A failed registration is asked again by the next caller, not remembered.
        registering = undefined;
        throw error;
      },
    );
    return registering;
  }

  function send(
    id: number,
    record: SourceRecord,
    settlement: Settlement,
    times: SettlementTimes,
  ): Promise<void> {
    const receipt = buildReceipt(record, settlement, times, context);
    // No abort signal: a receipt is the last step of a record that has settled; a revoke or
    // shutdown waits for it (bounded) rather than give up a write that costs one batch slot.
    // A Buffer key: sized and sent as is, never converted again on the way.
    return producer.send({ key: Buffer.from(receiptKey(receipt)), value: encodeReceipt(receipt, id, type) });
  }

  return {
    topic: producer.topic,
    halts: producer.halts,
    prepare,
    write(record, settlement, times) {
      if (schemaId !== undefined) return send(schemaId, record, settlement, times);
      return prepare().then((id) => send(id, record, settlement, times));
    },
  };
}

/**
 * The settings of a receipts topic the bridge creates. Not compacted: a compacted topic keeps
 * only the latest receipt per eventId, which after a crash is the replay's DUPLICATE and hides
 * the first DELIVERED with its requestId, and it keeps every distinct event for ever. Plain
 * retention keeps every receipt for the broker's retention.ms; docs/producing-events.md says how
 * to keep a latest-per-event table if a team wants one.
 */
export const receiptsTopicConfig: readonly { name: string; value: string }[] = [
  { name: 'cleanup.policy', value: 'delete' },
];

/** Creates the receipts topic when it is missing; an existing one is left as it is. */
export function ensureReceiptsTopic(admin: Pick<Admin, 'listTopics' | 'createTopics'>, topic: string) {
  return ensureTopic(
    admin,
    topic,
    receiptsTopicConfig,
    (cause) =>
      new BridgeError(
        'TOPIC_UNWRITABLE',
        `cannot create the receipts topic ${topic} (KAFKA_RECEIPTS_TOPIC): create it, or grant this principal Create on it`,
        { cause, context: { variable: 'KAFKA_RECEIPTS_TOPIC' } },
      ),
  );
}
