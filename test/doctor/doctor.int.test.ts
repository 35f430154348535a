import { createServer } from 'node:net';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { formatChecklist } from '../../src/cli/commands/doctor.ts';
import { runDoctor, type CheckResult } from '../../src/doctor/checks.ts';
import { dlqMaxMessageBytes, dlqTopicConfig } from '../../src/kafka/dlq.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { runCli } from '../cli/run-cli.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

// Each fault must surface as exactly one ✗ line, so an operator reads one cause, not a cascade.

const services = inject('services');
const topic = uniqueName('doctor-in');
const dlq = `${topic}.dlq`;
const group = uniqueName('doctor-group');
let admin: Admin;
let dropTopics: () => Promise<void>;
let sandbox: RunningSandbox;
let closedPort: number;

/** A port nothing listens on: bound by us, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function registerSubject(subject: string): Promise<void> {
  const answer = await fetch(`${services.schemaRegistryUrl}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(newestSchema().schema) }),
  });
  expect(answer.status).toBe(200);
}

function healthyEnv(): Record<string, string> {
  return {
    KAFKA_BROKERS: services.kafkaBrokers.join(','),
    KAFKA_TOPICS: topic,
    KAFKA_DLQ_TOPIC: dlq,
    KAFKA_GROUP_ID: group,
    KAFKA_CONNECTION_TIMEOUT_MS: '3000',
    SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
    REDIS_URL: services.redisUrl,
    GONG_BASE_URL: sandbox.url,
    GONG_ACCESS_KEY: 'doctor-key',
    GONG_ACCESS_KEY_SECRET: 'doctor-secret',
  };
}

async function doctor(
  env: Record<string, string>,
  flags: { gongAuth?: boolean; createDlq?: boolean } = {},
): Promise<{ results: CheckResult[]; failures: string[] }> {
  const results = await runDoctor({
    env,
    timeoutMs: 3000,
    gongAuth: flags.gongAuth ?? false,
    createDlq: flags.createDlq ?? false,
  });
  const failures = formatChecklist(results)
    .split('\n')
    .filter((line) => line.startsWith('✗'));
  return { results, failures };
}

beforeAll(async () => {
  admin = testKafka().admin();
  await admin.connect();
  dropTopics = await createTopics(admin, [topic], 3);
  // The DLQ as run creates it: sized for MAX_RECORD_BYTES plus our headers.
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: dlq, numPartitions: 3, replicationFactor: 1, configEntries: dlqTopicConfig(1_048_576) },
    ],
  });
  await registerSubject(`${topic}-value`);
  sandbox = await startSandbox({ port: 0, accessKey: 'doctor-key', accessKeySecret: 'doctor-secret' });
  closedPort = await freePort();
});

afterAll(async () => {
  await sandbox?.close();
  await dropTopics?.();
  await admin?.deleteTopics({ topics: [dlq] }).catch(() => {});
  await admin?.disconnect();
});

describe('gong-bridge doctor against the real stack', () => {
  it('passes every check on a healthy configuration, and the Gong check costs no call', async () => {
    const { results, failures } = await doctor(healthyEnv());
    expect(failures).toEqual([]);
    expect(results.map((result) => [result.id, result.status])).toEqual([
      ['config', 'ok'],
      ['kafka', 'ok'],
      ['topics', 'ok'],
      ['dlq', 'ok'],
      ['group', 'ok'],
      ['registry', 'ok'],
      ['subjects', 'ok'],
      ['mappings', 'ok'],
      ['redis', 'ok'],
      ['gong', 'ok'],
      ['gong-auth', 'skip'],
    ]);
    expect(sandbox.stats().counted).toBe(0);
  });

  it('a broker down gives one ✗ line, on the brokers, and skips what needs them', async () => {
    const { results, failures } = await doctor({ ...healthyEnv(), KAFKA_BROKERS: `127.0.0.1:${closedPort}` });
    expect(failures).toEqual([
      `✗ Kafka brokers answer: Kafka at 127.0.0.1:${closedPort} is unavailable: Connection error: connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    ]);
    expect(results.filter((result) => result.status === 'skip').map((result) => result.id)).toEqual([
      'topics',
      'dlq',
      'group',
      'gong-auth',
    ]);
  });

  it('the registry down gives one ✗ line, on the registry', async () => {
    const { failures } = await doctor({
      ...healthyEnv(),
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${closedPort}/apis/ccompat/v7`,
    });
    expect(failures).toEqual([
      `✗ schema registry answers: http://127.0.0.1:${closedPort}/apis/ccompat/v7: connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    ]);
  });

  it('a wrong topic gives one ✗ line, on the topics, not a second one on its subject', async () => {
    const wrong = uniqueName('doctor-missing');
    const { failures } = await doctor({ ...healthyEnv(), KAFKA_TOPICS: `${topic},${wrong}` });
    expect(failures).toEqual([`✗ input topics exist: not found: ${wrong}`]);
  });

  it('Redis down gives one ✗ line, on Redis', async () => {
    const { failures } = await doctor({ ...healthyEnv(), REDIS_URL: `redis://127.0.0.1:${closedPort}` });
    expect(failures).toEqual([
      `✗ Redis answers: redis://127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    ]);
  });

  it('Gong unreachable gives one ✗ line, on Gong', async () => {
    const { failures } = await doctor({ ...healthyEnv(), GONG_BASE_URL: `http://127.0.0.1:${closedPort}` });
    expect(failures).toEqual([
      `✗ Gong reachable: http://127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    ]);
  });

  it('a subject that is not registered gives one ✗ line', async () => {
    const unregistered = uniqueName('doctor-noschema');
    const drop = await createTopics(admin, [unregistered], 1);
    try {
      const { failures } = await doctor({ ...healthyEnv(), KAFKA_TOPICS: unregistered });
      expect(failures).toEqual([`✗ registry subjects exist: not registered: ${unregistered}-value`]);
    } finally {
      await drop();
    }
  });

  it('--gong-auth spends exactly one call: 400 to an invalid body proves the credentials, nothing is stored', async () => {
    const before = sandbox.stats().counted;
    const { results } = await doctor(healthyEnv(), { gongAuth: true });
    const auth = results.find((result) => result.id === 'gong-auth');
    expect(auth).toMatchObject({ status: 'ok' });
    expect(auth?.detail).toContain('answered 400');
    expect(auth?.detail).toContain('1 call of quota used');
    expect(sandbox.stats().counted - before).toBe(1);
    expect(sandbox.stats().accepted).toBe(0);
  });

  it('--gong-auth with wrong credentials fails on the credentials line', async () => {
    const { failures } = await doctor(
      { ...healthyEnv(), GONG_ACCESS_KEY_SECRET: 'wrong' },
      { gongAuth: true },
    );
    expect(failures).toEqual([
      '✗ Gong accepts the credentials: Gong answered 401 to one call (1 call of quota used)',
    ]);
  });

  it('a missing dead-letter topic is created only with --create-dlq', async () => {
    const missing = uniqueName('doctor-dlq');
    const env = { ...healthyEnv(), KAFKA_DLQ_TOPIC: missing };
    const plain = await doctor(env);
    // run creates a missing DLQ at start-up, so one this principal may create passes, uncreated.
    expect(plain.results.find((result) => result.id === 'dlq')).toMatchObject({ status: 'ok' });
    expect(await admin.listTopics()).not.toContain(missing);
    const created = await doctor(env, { createDlq: true });
    expect(created.results.find((result) => result.id === 'dlq')?.detail).toBe(
      `${missing} created with 3 partitions, max.message.bytes ${dlqMaxMessageBytes(1_048_576)}, gzip`,
    );
    expect(await admin.listTopics()).toContain(missing);
    await admin.deleteTopics({ topics: [missing] }).catch(() => {});
  });

  // Issue 13 §2: the default limit (1,048,588) cannot take the dead letter of a record just
  // under MAX_RECORD_BYTES (1 MiB) plus our headers.
  it('a dead-letter topic too small for MAX_RECORD_BYTES plus headers gives one ✗ line saying how to size it', async () => {
    const small = uniqueName('doctor-small-dlq');
    const drop = await createTopics(admin, [small], 1);
    try {
      const { failures, results } = await doctor({ ...healthyEnv(), KAFKA_DLQ_TOPIC: small });
      expect(failures).toEqual([
        `✗ dead-letter topic: ${small} has max.message.bytes 1048588, below MAX_RECORD_BYTES (1048576) plus 16384 for our headers: the dead letter of a record near the limit would not fit and is written as a reference letter, without its value`,
      ]);
      expect(results.find((result) => result.id === 'dlq')?.fix).toContain(
        `max.message.bytes=${dlqMaxMessageBytes(1_048_576)}`,
      );
      // Sized for a smaller MAX_RECORD_BYTES, the same topic is fine.
      const fits = await doctor({ ...healthyEnv(), KAFKA_DLQ_TOPIC: small, MAX_RECORD_BYTES: '1000000' });
      expect(fits.failures).toEqual([]);
    } finally {
      await drop();
    }
  });

  it('notes a source topic that allows larger records than the dead-letter topic can hold', async () => {
    const big = uniqueName('doctor-big-in');
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: big, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '5242880' }] },
      ],
    });
    await registerSubject(`${big}-value`);
    try {
      const { failures, results } = await doctor({ ...healthyEnv(), KAFKA_TOPICS: big });
      expect(failures).toEqual([]);
      expect(results.find((result) => result.id === 'dlq')?.detail).toContain(
        `${big} allows 5242880 bytes: records over 1048576 bytes are dead-lettered as RECORD_TOO_LARGE reference letters (no value)`,
      );
    } finally {
      await admin.deleteTopics({ topics: [big] }).catch(() => {});
    }
  });

  it('the command prints JSON with --json and exits 1 on a failure, 0 when healthy', async () => {
    // runCli does not pass an environment; the child inherits ours, so set it through node's -e.
    const failing = await runCliWithEnv(['doctor', '--json', '--timeout', '2000'], {
      ...healthyEnv(),
      REDIS_URL: `redis://127.0.0.1:${closedPort}`,
    });
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(report.ok).toBe(false);
    expect(report.checks.filter((check) => check.status === 'fail').map((check) => check.id)).toEqual([
      'redis',
    ]);
    const healthy = await runCliWithEnv(['doctor'], healthyEnv());
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toContain('All checks passed.');
    expect(healthy.stdout).not.toContain('\u001b[');
  });
});

async function runCliWithEnv(args: string[], env: Record<string, string>) {
  const saved = { ...process.env };
  // The CLI helper spawns with the parent's environment; swap it for the duration of the spawn.
  for (const key of Object.keys(process.env))
    if (/^(KAFKA|SCHEMA|REDIS|GONG)_/.test(key)) delete process.env[key];
  Object.assign(process.env, env);
  try {
    return await runCli(args);
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}
