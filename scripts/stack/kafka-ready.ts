// Exits 0 once the broker answers a metadata request and its group coordinator answers for a
// group, so stack-up waits for a Kafka that can really serve clients rather than for an open port.
// On a fresh broker the second takes a moment longer: the first FindCoordinator creates
// __consumer_offsets, which then loads (src/kafka/group-coordinator.ts); a consumer group, the
// demo's bridge or `make doctor` started before that would meet "coordinator not available".
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
  await admin.describeGroups(['gong-bridge-stack-check']);
  await admin.disconnect();
  process.exit(0);
} catch {
  process.exit(1);
}
