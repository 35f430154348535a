/**
 * The evidence behind the dead-letter producer's settings (docs/consumer-runtime.md, "The
 * dead-letter producer"): the serialized, batched producer of src/kafka/batched-producer.ts on
 * an idempotent kafkajs producer and on a plain one, against the local stack's real broker.
 *
 *  - lost reply: 20 messages while the broker's reply to the first produce is dropped (Toxiproxy
 *    `reset_peer` on the way back, switched on at once and off once the broker stored it);
 *  - split: a batch spanning two partitions, one of which refuses its part for its size, so the
 *    batch is split and its parts sent again; then one more message to the stored partition.
 *
 * Prints, per run and producer: stored, missing, duplicates, and whether the producer still
 * writes. Usage: node bench/dlq-producer-choice.ts [runs] (default 3), with the stack up
 * (bash scripts/stack/stack.sh up); reads .stack/env or KAFKA_BROKERS, KAFKA_PROXIED_BROKERS and
 * TOXIPROXY_URL. Not a test: it reports what kafkajs does, good or bad.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import { logLevel, type Producer } from 'kafkajs';
import { systemClock, systemSleep } from '../src/delivery/system-time.ts';
import { createBatchedProducer } from '../src/kafka/batched-producer.ts';
import { kafkaClient } from '../src/kafka/kafka-client.ts';

function stackEnv(): Record<string, string | undefined> {
  let fromFile: Record<string, string> = {};
  try {
    const text = readFileSync(new URL('../.stack/env', import.meta.url), 'utf8');
    fromFile = Object.fromEntries(
      text
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  } catch {
    // No local stack file: the environment must say where things are.
  }
  return { ...fromFile, ...process.env };
}

const env = stackEnv();
const brokers = (env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
const proxied = (env.KAFKA_PROXIED_BROKERS ?? '').split(',').filter(Boolean);
const toxiproxy = env.TOXIPROXY_URL;
if (brokers.length === 0 || proxied.length === 0 || toxiproxy === undefined) {
  throw new Error('set KAFKA_BROKERS, KAFKA_PROXIED_BROKERS and TOXIPROXY_URL, or start the stack');
}

const direct = kafkaClient({ brokers, logLevel: logLevel.NOTHING });
const admin = direct.admin();
await admin.connect();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** kafkajs refuses an idempotent producer without retries; one quick retry is the least it takes. */
function producerOf(kafka: Kafka, idempotent: boolean): Producer {
  return kafka.producer({
    idempotent,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: idempotent ? { retries: 1, initialRetryTime: 100 } : { retries: 0 },
  });
}

async function keysOf(topic: string): Promise<string[]> {
  const total = (await admin.fetchTopicOffsets(topic)).reduce((sum, end) => sum + Number(end.high), 0);
  const keys: string[] = [];
  if (total === 0) return keys;
  const consumer = direct.consumer({ groupId: `choice-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        keys.push(String(message.key));
        if (keys.length >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return keys;
}

function tally(expected: string[], stored: string[]) {
  const unique = new Set(stored);
  return {
    stored: stored.length,
    missing: expected.filter((key) => !unique.has(key)).length,
    duplicates: stored.length - unique.size,
  };
}

async function toxic(method: 'POST' | 'DELETE') {
  const url =
    method === 'POST' ? `${toxiproxy}/proxies/kafka/toxics` : `${toxiproxy}/proxies/kafka/toxics/lost-reply`;
  const response = await fetch(url, {
    method,
    ...(method === 'POST'
      ? {
          body: JSON.stringify({
            name: 'lost-reply',
            type: 'reset_peer',
            stream: 'downstream',
            toxicity: 1,
            attributes: { timeout: 0 },
          }),
        }
      : {}),
  });
  if (!response.ok && response.status !== 404) throw new Error(`toxiproxy ${method}: ${response.status}`);
}

async function lostReply(idempotent: boolean) {
  const topic = `choice-lost-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = producerOf(kafkaClient({ brokers: proxied, logLevel: logLevel.NOTHING }), idempotent);
  await producer.connect();
  const batched = createBatchedProducer({ producer, topic, clock: systemClock, sleep: systemSleep });
  const keys = Array.from({ length: 21 }, (_, i) => `m${i}`);
  try {
    await batched.send({ key: keys[0]!, value: 'warm-up' });
    const before = Number((await admin.fetchTopicOffsets(topic))[0]!.high);
    await toxic('POST');
    const sends = keys.slice(1).map((key) => batched.send({ key, value: 'x' }));
    while (Number((await admin.fetchTopicOffsets(topic))[0]!.high) <= before) await sleep(20);
    await toxic('DELETE');
    await Promise.all(sends);
  } finally {
    await toxic('DELETE');
    batched.close();
    await producer.disconnect();
  }
  const result = tally(keys, await keysOf(topic));
  await admin.deleteTopics({ topics: [topic] });
  return result;
}

async function split(idempotent: boolean) {
  const topic = `choice-split-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({
    topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }],
    waitForLeaders: true,
  });
  const producer = producerOf(direct, idempotent);
  await producer.connect();
  const batched = createBatchedProducer({
    producer,
    topic,
    clock: systemClock,
    sleep: systemSleep,
    probeBaseMs: 200,
    probeMaxMs: 400,
  });
  // The first goes alone; the next three form one batch: two small ones on one partition and a
  // large one that lands on the other (kafkajs' default partitioner, by key), refused for its size.
  const small = ['a1', 'a2', 'a3'];
  const settled = (promise: Promise<void>) =>
    promise.then(
      () => 'ok',
      (error: unknown) => (error instanceof Error ? error.message.slice(0, 30) : 'error'),
    );
  const timeout = (ms: number) => sleep(ms).then(() => 'timeout');
  try {
    const sends = [
      ...small.map((key) => batched.send({ key, value: 'x' })),
      batched.send({ key: 'big', value: Buffer.alloc(40_000, 7) }),
    ].map(settled);
    const first = await Promise.race([Promise.all(sends), timeout(8_000)]);
    const after = await Promise.race([settled(batched.send({ key: 'after', value: 'x' })), timeout(5_000)]);
    const result = tally([...small, 'after'], await keysOf(topic));
    return { ...result, batch: Array.isArray(first) ? 'settled' : 'stuck', nextWrite: after };
  } finally {
    batched.close();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  }
}

const runs = Number(process.argv[2] ?? 3);
for (let run = 1; run <= runs; run++) {
  for (const idempotent of [true, false]) {
    const label = idempotent ? 'idempotent' : 'plain     ';
    console.log(`run ${run} ${label} lost reply: ${JSON.stringify(await lostReply(idempotent))}`);
    console.log(`run ${run} ${label} split:      ${JSON.stringify(await split(idempotent))}`);
  }
}
await admin.disconnect();
process.exit(0);
