import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { uniqueName } from '../helpers/kafka.ts';

/**
 * What every process that builds its kafkajs clients with kafkaClient() prints: nothing of
 * kafkajs' start-up warning about its v2.0 partitioner change, and no TimeoutNegativeWarning from
 * its request queues. Each case is a fresh Node process (both warnings are once per process), run
 * against the real broker with a producer, a send and an idle second, which is when kafkajs'
 * request queue used to arm its negative timer.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

const script = (topic: string) => `
import { logLevel } from 'kafkajs';
import { kafkaClient } from ${JSON.stringify(join(root, 'src/kafka/kafka-client.ts'))};
const logged = [];
const kafka = kafkaClient({
  clientId: 'kafka-client-test',
  brokers: ${JSON.stringify(inject('services').kafkaBrokers)},
  logLevel: logLevel.WARN,
  logCreator: () => ({ log }) => logged.push(log.message),
});
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic: ${JSON.stringify(topic)}, numPartitions: 1 }] });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER } });
await producer.connect();
await producer.send({ topic: ${JSON.stringify(topic)}, messages: [{ key: 'k', value: 'v' }] });
await new Promise((resolve) => setTimeout(resolve, 1500));
await producer.disconnect();
await admin.deleteTopics({ topics: [${JSON.stringify(topic)}] });
await admin.disconnect();
console.log(JSON.stringify(logged));
`;

describe('kafkaClient()', () => {
  it('builds clients that print neither the partitioner warning nor a TimeoutNegativeWarning', async () => {
    const topic = uniqueName('kafka-client');
    const env = { ...process.env };
    delete env.KAFKAJS_NO_PARTITIONER_WARNING;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '--eval', script(topic)], {
      cwd: root,
      env,
      timeout: 60_000,
    });
    expect(JSON.parse(stdout) as string[]).toEqual([]);
    expect(stderr).toBe('');
  });
});
