import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { runProduceSample } from '../../src/cli/commands/produce-sample.ts';
import { runReplayDlq } from '../../src/cli/commands/replay-dlq.ts';
import { deadLetterHeaders } from '../../src/kafka/dlq.ts';
import { startSandbox } from '../../src/sandbox/server.ts';
import {
  allCommitted,
  bridgeEnv,
  produceTo,
  readAll,
  startBridge,
  waitFor,
  type TestBridge,
} from '../helpers/bridge.ts';
import { createTopics, kafkaTestSuite, uniqueName } from '../helpers/kafka.ts';
import { captureIo } from '../helpers/cli-io.ts';

/**
 * A basic-auth gate in front of the real Apicurio, the way managed registries sit behind an API
 * gateway: it answers 401 (Confluent's body, error_code 40101) unless the request carries the
 * password it currently accepts, and forwards everything else untouched.
 */
async function startAuthGate(upstream: string, password: string) {
  let accepted = password;
  let requests = 0;
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    requests += 1;
    const expected = `Basic ${Buffer.from(`bridge:${accepted}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void fetch(`${target.origin}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) }),
      }).then(
        async (answer) => {
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          });
          res.end(Buffer.from(await answer.arrayBuffer()));
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** The gate's URL with the upstream's path (…/apis/ccompat/v7). */
    url: `http://127.0.0.1:${port}${target.pathname}`,
    requests: () => requests,
    accept(next: string) {
      accepted = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Issue 13 §3: a registry that refuses the credentials was "unavailable", retried for ever. */
describe('a schema registry that refuses the credentials', () => {
  const { kafka, admin, cleanups } = kafkaTestSuite();
  const registryUrl = inject('services').schemaRegistryUrl;

  async function setup() {
    const topic = uniqueName('registry-auth');
    const groupId = uniqueName('bridge');
    const drop = await createTopics(admin, [topic], 2);
    cleanups.push(async () => {
      await drop();
      await admin.deleteTopics({ topics: [`${topic}.dlq`] }).catch(() => {});
    });
    const gate = await startAuthGate(registryUrl, 'rotated');
    cleanups.push(() => gate.close());
    const sandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 0,
      daily: 0,
    });
    cleanups.push(() => sandbox.close());
    const env = bridgeEnv({
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      GONG_BASE_URL: sandbox.url,
      SCHEMA_REGISTRY_URL: gate.url,
      SCHEMA_REGISTRY_USERNAME: 'bridge',
      SCHEMA_REGISTRY_PASSWORD: 'old-secret',
    });
    return { topic, groupId, gate, sandbox, env };
  }

  it('run halts (paused, unready, one probe at a time, nothing dead-lettered) and resumes when they work again', async () => {
    const { topic, groupId, gate, sandbox, env } = await setup();
    const produced = await produceTo(kafka, topic, 20);
    const bridge: TestBridge = await startBridge(env);
    cleanups.push(() => bridge.stop());
    const seen: string[] = [];
    const events = bridge.graph.runtime.events;
    events.on('halted', (event) => seen.push(`halted ${event.reason}`));
    events.on('unhalted', (event) => seen.push(`unhalted ${event.reason}`));
    events.on('paused', (event) => seen.push(`paused ${event.reason}`));
    events.on('dead-lettered', (event) => seen.push(`dead-lettered ${event.reason}`));
    events.on('registry-unavailable', () => seen.push('registry-unavailable'));
    events.on('internal-error', (event) => seen.push(`internal-error ${event.error}`));

    // Joined first, then unready once the first lookup is refused (the old code stayed ready).
    await waitFor('the group joined', () => bridge.graph.runtime.readiness().joined, 30_000);
    await waitFor(
      'unready while the registry refuses us',
      () => !bridge.graph.runtime.readiness().ready,
      30_000,
    );
    expect(bridge.graph.runtime.readiness()).toMatchObject({ ready: false, halts: ['registry-auth'] });
    const before = gate.requests();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    // Probes at 1, 2 and 4 s: not one request per waiting record per retry.
    expect(gate.requests() - before).toBeLessThanOrEqual(4);
    expect(seen).toEqual(['paused registry-auth-halt', 'halted registry-auth']);
    expect(sandbox.stats().calls).toBe(0);

    gate.accept('old-secret');
    await waitFor('every record committed', () => allCommitted(admin, groupId, topic), 60_000);
    expect(seen).toContain('unhalted registry-auth');
    expect(
      seen.filter((entry) => !/^(halted|unhalted|paused|dead-lettered GONG_INVALID)/.test(entry)),
    ).toEqual([]);
    expect(bridge.graph.runtime.readiness()).toMatchObject({ ready: true, halts: [] });
    const valid = produced.filter((sample) => sample.kind === 'valid');
    for (const sample of valid) expect(sandbox.event(sample.eventId!)).toBeDefined();
  });

  it('replay-dlq stops at once with exit 3 and says which credentials to check', async () => {
    const { topic, env } = await setup();
    const dlqTopic = `${topic}.dlq`;
    await createTopics(admin, [dlqTopic], 1);
    const producer = kafka.producer();
    await producer.connect();
    const value = Buffer.from([0, 0, 0, 0, 1, 2]);
    await producer.send({
      topic: dlqTopic,
      messages: [
        {
          key: 'k',
          value,
          headers: deadLetterHeaders(
            { topic, partition: 0, offset: '0', timestamp: '0', key: Buffer.from('k'), value },
            { reason: 'AVRO_DECODE_FAILED', message: 'x' },
            'test',
            0,
          ),
        },
      ],
    });
    await producer.disconnect();
    const cli = captureIo(env);
    const started = Date.now();
    const code = await Promise.race([
      runReplayDlq(['--dry-run'], cli.io),
      new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000)),
    ]);
    expect(code, cli.err()).toBe(3);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(cli.err()).toMatch(/answered 401.*SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD/);
    expect(await readAll(kafka, dlqTopic)).toHaveLength(1);
  });

  it('produce-sample exits 1 naming the credentials to check', async () => {
    const { topic, env } = await setup();
    const cli = captureIo(env);
    expect(await runProduceSample(['--count', '1', '--topic', topic], cli.io)).toBe(1);
    expect(cli.err()).toMatch(/refused the credentials \(401\).*SCHEMA_REGISTRY_PASSWORD/);
  });
});
