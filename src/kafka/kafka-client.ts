import { Kafka, Partitioners, type KafkaConfig, type Producer, type ProducerConfig } from 'kafkajs';
import { fixKafkajsRequestQueue } from './request-queue-fix.ts';

/**
 * Every kafkajs client gong-bridge builds, in its commands, scripts, benchmarks and tests, so they
 * all behave alike (eslint refuses `new Kafka` anywhere else):
 *  - kafkajs' idle 1 ms timer loop is switched off (request-queue-fix.ts), which is also what
 *    Node 24 printed a TimeoutNegativeWarning about;
 *  - producers use kafkajs' DefaultPartitioner, the Java client's murmur2 partitioning, so a key
 *    lands on the same partition whichever client wrote it. Naming it, rather than relying on
 *    kafkajs' default, is also what stops kafkajs warning at every start that its v2.0 default
 *    changed. A caller may still pass its own createPartitioner.
 */
export function kafkaClient(options: KafkaConfig): Kafka {
  fixKafkajsRequestQueue();
  return new JavaPartitionedKafka(options);
}

class JavaPartitionedKafka extends Kafka {
  override producer(config: ProducerConfig = {}): Producer {
    return super.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
  }
}
