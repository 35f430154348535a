// Exits 0 once the broker answers a metadata request, so stack-up waits for a Kafka that can
// really serve clients rather than for an open port.
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';

const broker = process.argv[2] ?? '127.0.0.1:19092';
const kafka = kafkaClient({
  clientId: 'gong-bridge-stack-check',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2000,
  requestTimeout: 3000,
  retry: { retries: 0 },
});
const admin = kafka.admin();
try {
  await admin.connect();
  const cluster = await admin.describeCluster();
  if (cluster.brokers.length === 0 || cluster.controller === null) process.exit(1);
  await admin.disconnect();
  process.exit(0);
} catch {
  process.exit(1);
}
