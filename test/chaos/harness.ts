import { appendFile, mkdir } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, Kafka } from 'kafkajs';
import { inject } from 'vitest';
import { produceSamples, type ProducedSample } from '../../src/kafka/sample-producer.ts';
import type { RunningSandbox } from '../../src/sandbox/server.ts';
import { header, readAll } from '../helpers/bridge.ts';

/**
 * Shared accounting for the fault-injection scenarios. Every scenario produces sample traffic
 * (valid events plus a share that Gong would reject), runs the bridge through its fault, and
 * ends with the same books: produced = delivered + dead-lettered, nothing lost, nothing valid
 * dead-lettered, nothing stored twice, and no offset ever committed past a record that was not
 * yet delivered or dead-lettered (sampled while the run goes on).
 *
 * CHAOS_EVENTS sets the traffic per scenario: the short form (CI) uses the default,
 * `make chaos` a larger number.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chaosEvents = Number(process.env.CHAOS_EVENTS ?? 120);

export interface ProducedRecord extends ProducedSample {
  readonly partition: number;
  readonly offset: bigint;
}

/** Produces sample traffic and learns where each record landed, for the commit monitor. */
export async function produceTraffic(
  kafka: Kafka,
  topic: string,
  count: number,
  invalidRatio = 0.1,
  /** Records of a scenario's own (an oversized record, a foreign schema id), produced after the traffic. */
  extra?: (kafka: Kafka, topic: string) => Promise<ProducedSample[]>,
): Promise<ProducedRecord[]> {
  const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let manifest: ProducedSample[];
  try {
    // A fresh range of sequence numbers so eventIds never collide with an earlier run.
    const firstSeq = Math.floor(Math.random() * 1_000_000_000);
    manifest = await produceSamples({ producer, registry, topic, count, invalidRatio, firstSeq });
  } finally {
    await producer.disconnect();
  }
  if (extra !== undefined) manifest.push(...(await extra(kafka, topic)));
  const placed = new Map((await readAll(kafka, topic)).map((record) => [record.key, record]));
  return manifest.map((sample) => {
    const record = placed.get(sample.key);
    if (record === undefined) throw new Error(`produced record ${sample.key} not found in ${topic}`);
    return { ...sample, partition: record.partition, offset: BigInt(record.offset) };
  });
}

export interface CommitMonitor {
  /** Stops sampling; returns the commits that passed a record not settled at that moment. */
  stop(): Promise<{ samples: number; violations: string[] }>;
}

/**
 * Samples the group's committed offsets every `everyMs` and checks that every record below
 * each committed offset was already settled: a valid event stored by the sandbox (which stores
 * before it answers), or a bad record in the dead-letter topic. A dead letter missing from the
 * live reader is checked again against a full read at the end, because the reader may have
 * fallen behind (it does across a broker restart). So for bad records this proves "dead-lettered
 * eventually, none lost", not the order of commit and DLQ acknowledgement; for valid events it
 * proves the order.
 */
export function startCommitMonitor(options: {
  admin: Admin;
  groupId: string;
  topic: string;
  records: readonly ProducedRecord[];
  sandbox: RunningSandbox;
  deadLettered: () => Promise<Set<string>>;
  /** A full read of the dead-letter topic at the end; the live reader may have fallen behind. */
  finalDeadLettered: () => Promise<Set<string>>;
  everyMs?: number;
}): CommitMonitor {
  const { admin, groupId, topic, records, sandbox } = options;
  const byPartition = new Map<number, ProducedRecord[]>();
  for (const record of records) {
    const list = byPartition.get(record.partition) ?? [];
    list.push(record);
    byPartition.set(record.partition, list);
  }
  for (const list of byPartition.values()) list.sort((a, b) => (a.offset < b.offset ? -1 : 1));
  const verified = new Map<number, number>();
  const violations: string[] = [];
  const suspects = new Map<string, string>();
  let samples = 0;
  let stopped = false;

  const sample = async () => {
    let committed;
    try {
      [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    } catch {
      return; // the broker may be the fault under test; a missed sample proves nothing
    }
    samples++;
    for (const { partition, offset } of committed?.partitions ?? []) {
      const list = byPartition.get(partition) ?? [];
      let index = verified.get(partition) ?? 0;
      const upTo = BigInt(offset);
      let deadLetters: Set<string> | undefined;
      while (index < list.length && list[index]!.offset < upTo) {
        const record = list[index]!;
        const where = `${topic}[${partition}]@${record.offset} (${record.kind}) below committed ${upTo}`;
        if (record.kind === 'valid') {
          if (sandbox.event(record.eventId!) === undefined) violations.push(`${where}: not delivered`);
        } else {
          deadLetters ??= await options.deadLettered();
          if (!deadLetters.has(record.key)) suspects.set(record.key, where);
        }
        index++;
      }
      verified.set(partition, index);
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 200));
    }
  })();

  return {
    async stop() {
      stopped = true;
      await loop;
      const deadLetters = suspects.size === 0 ? new Set<string>() : await options.finalDeadLettered();
      for (const [key, where] of suspects) {
        if (!deadLetters.has(key)) violations.push(`${where}: not dead-lettered`);
      }
      return { samples, violations };
    },
  };
}

export interface Accounting {
  readonly scenario: string;
  readonly events: number;
  readonly valid: number;
  readonly bad: number;
  readonly faults: Record<string, number | string>;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly lost: number;
  readonly validDeadLettered: number;
  /** Dead letters stored more than once (a produce retried after its reply was lost): harmless. */
  readonly dlqDuplicates: number;
  readonly storedTwice: number;
  readonly duplicatesSent: number;
  readonly absorbedAs409: number;
  readonly callsPerDelivered: number;
  readonly commitSamples: number;
  readonly commitViolations: readonly string[];
  readonly seconds: number;
}

/** The books of one scenario, printed as one line and appended to .stack/reports/chaos.jsonl. */
export async function account(options: {
  scenario: string;
  kafka: Kafka;
  dlqTopic: string;
  records: readonly ProducedRecord[];
  sandbox: RunningSandbox;
  faults: Record<string, number | string>;
  monitor: { samples: number; violations: string[] };
  startedAt: number;
}): Promise<Accounting> {
  const { records, sandbox } = options;
  const dlq = await readAll(options.kafka, options.dlqTopic);
  const dlqKeys = new Set(dlq.map((record) => record.key));
  const valid = records.filter((record) => record.kind === 'valid');
  const bad = records.filter((record) => record.kind !== 'valid');
  const delivered = valid.filter((record) => sandbox.event(record.eventId!) !== undefined).length;
  const deadLettered = bad.filter((record) => dlqKeys.has(record.key)).length;
  const stats = sandbox.stats();
  const result: Accounting = {
    scenario: options.scenario,
    events: records.length,
    valid: valid.length,
    bad: bad.length,
    faults: options.faults,
    delivered,
    deadLettered,
    lost: records.length - delivered - deadLettered,
    validDeadLettered: valid.filter((record) => dlqKeys.has(record.key)).length,
    dlqDuplicates: dlq.length - dlqKeys.size,
    storedTwice: stats.accepted - delivered,
    duplicatesSent: stats.duplicates,
    absorbedAs409: stats.byStatus['409'] ?? 0,
    callsPerDelivered: delivered === 0 ? 0 : Math.round((stats.calls / delivered) * 100) / 100,
    commitSamples: options.monitor.samples,
    commitViolations: options.monitor.violations,
    seconds: Math.round((Date.now() - options.startedAt) / 100) / 10,
  };
  // Dead letters must say why; a missing reason would make the DLQ useless to on-call.
  const reasonless = dlq.filter((record) => header(record.headers, 'gong-bridge.reason') === undefined);
  if (reasonless.length > 0) throw new Error(`${reasonless.length} dead letters without a reason header`);
  const faults = Object.entries(result.faults)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  console.log(
    `chaos ${result.scenario}: events=${result.events} (valid ${result.valid}, bad ${result.bad}) ` +
      `faults: ${faults} | delivered=${result.delivered} dead-lettered=${result.deadLettered} ` +
      `lost=${result.lost} duplicates sent=${result.duplicatesSent} absorbed as 409=${result.absorbedAs409} ` +
      `dead letters stored twice=${result.dlqDuplicates} ` +
      `calls/delivered=${result.callsPerDelivered} commit samples=${result.commitSamples} ` +
      `violations=${result.commitViolations.length} in ${result.seconds}s`,
  );
  const reports = join(root, '.stack', 'reports');
  await mkdir(reports, { recursive: true });
  await appendFile(
    join(reports, 'chaos.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), ...result })}\n`,
  );
  return result;
}

/** A DLQ reader that keeps a live set of dead-lettered keys, for the commit monitor. */
export async function followDeadLetters(kafka: Kafka, topic: string, groupId: string) {
  const keys = new Set<string>();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key !== null) keys.add(message.key.toString());
    },
  });
  return {
    keys: async () => keys,
    stop: () => consumer.disconnect(),
  };
}

/**
 * A TCP proxy in front of the sandbox that resets a share of connections just after a reply
 * starts to come back: the call was made (and possibly stored), but the client sees ECONNRESET,
 * the way a load balancer or NAT timeout drops a connection.
 */
export async function startResetProxy(target: { host: string; port: number }, resetRate: () => number) {
  let resets = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (Math.random() < resetRate()) {
        resets++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    resets: () => resets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
