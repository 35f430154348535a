import type avro from 'avsc';
import type { Admin } from 'kafkajs';
import { BridgeError } from '../errors.ts';
import {
  batchCompression,
  type BatchedProducer,
  type BatchedProducerOptions,
} from '../kafka/batched-producer.ts';
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

/** How `run` sets up the receipts topic's batched producer. */
export const receiptsProducerOptions = {
  haltName: 'receipts',
  onHalt: 'probe',
  compression: batchCompression,
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

  function prepare(): Promise<number> {
    registering ??= options
      .register(receiptsSubject(producer.topic), receiptSchema())
      .catch((error: unknown) => {
        // A failed registration is asked again by the next caller, not remembered.
        registering = undefined;
        throw error;
      });
    return registering;
  }

  return {
    topic: producer.topic,
    halts: producer.halts,
    prepare,
    async write(record, settlement, times) {
      const schemaId = await prepare();
      const receipt = buildReceipt(record, settlement, times, context);
      // No abort signal: a receipt is the last step of a record that has settled; a revoke or
      // shutdown waits for it (bounded) rather than give up a write that costs one batch slot.
      await producer.send({ key: receiptKey(receipt), value: encodeReceipt(receipt, schemaId, type) });
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
  // The producer sends gzip batches; kept as they arrive, readable by any client without plugins.
  { name: 'compression.type', value: 'gzip' },
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
