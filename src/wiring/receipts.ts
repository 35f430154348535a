import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Settings } from '../config/settings.ts';
import {
  createBatchedProducer,
  type BatchedProducer,
  type BatchedProducerOptions,
} from '../kafka/batched-producer.ts';
import { createReceiptWriter, receiptsProducerOptions, type ReceiptWriter } from '../receipts/writer.ts';
import { registerAvroSchema } from '../schemas/register.ts';
import { registryClientOptions } from './kafka-connection.ts';

export interface ReceiptsWiring {
  /** The receipts topic's batched producer; `run` closes it at shutdown. */
  readonly producer: BatchedProducer;
  readonly writer: ReceiptWriter;
}

/**
 * The receipts writer when KAFKA_RECEIPTS_TOPIC is set: its own batches on the kafkajs producer
 * the dead letters use, and the receipt schema registered with the run's registry settings.
 * Unset: no receipts.
 */
export function receiptsFromConfig(
  config: Settings,
  deps: Pick<BatchedProducerOptions, 'producer' | 'clock' | 'sleep' | 'onFailure'> & {
    readonly bridgeVersion: string;
    readonly deadLetterTopic: string;
  },
): ReceiptsWiring | undefined {
  const topic = config.KAFKA_RECEIPTS_TOPIC;
  if (topic === undefined) return undefined;
  const { bridgeVersion, deadLetterTopic, ...producerDeps } = deps;
  const producer = createBatchedProducer({ ...receiptsProducerOptions, ...producerDeps, topic });
  const writer = createReceiptWriter({
    producer,
    register: (subject, schema) =>
      registerAvroSchema(new SchemaRegistry(registryClientOptions(config)), subject, schema),
    context: { bridgeVersion, deadLetterTopic },
  });
  return { producer, writer };
}
