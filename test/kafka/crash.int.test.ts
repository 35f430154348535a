import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { allCommitted, bridgeEnv, header, produceTo, readAll, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/**
 * Acceptance 2 (issue 5): `gong-bridge run` as a real process, killed with SIGKILL at five
 * random moments of a 2,000-event run while the sandbox fails 10% of calls with a 5xx and loses
 * 5% of replies. Restarted each time, it must end with every valid eventId in the sandbox, none
 * missing and none stored twice (a retry of a stored event can only get a 409).
 */
describe('crash test: kill -9 five times during a run', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const topic = uniqueName('crash');
  const groupId = uniqueName('crash-bridge');
  let sandbox: RunningSandbox;
  let dropTopics: () => Promise<void> = async () => {};
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    await admin.connect();
    dropTopics = await createTopics(admin, [topic], 3);
    sandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 200,
      daily: 0,
      faults: { failRate: 0.1, lostReplyRate: 0.05 },
    });
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await sandbox?.close();
    await dropTopics();
    await admin.deleteTopics({ topics: [`${topic}.dlq`] }).catch(() => {});
    await admin.disconnect();
  });

  function spawnBridge(): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
    const env = bridgeEnv({
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: groupId,
      GONG_BASE_URL: sandbox.url,
      GONG_RATE_PER_SECOND: '200',
      // A killed member keeps its partitions until its session times out; 6 s is the broker minimum.
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      COMMIT_INTERVAL_MS: '300',
      LOG_LEVEL: 'warn',
      HTTP_PORT: '0',
    });
    const child = spawn(process.execPath, [main, 'run'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        children.delete(child);
        resolve(code);
      }),
    );
    return { child, exited, output: () => output };
  }

  it('ends with every valid eventId delivered exactly once; duplicates only as 409s', async () => {
    const manifest = await produceTo(kafka, topic, 2_000, { invalidRatio: 0.05 });
    const valid = manifest.filter((entry) => entry.kind === 'valid');

    const kills: number[] = [];
    for (let round = 0; round < 5; round++) {
      const bridge = spawnBridge();
      const wait = 1_500 + Math.floor(Math.random() * 3_500);
      kills.push(wait);
      const early = await Promise.race([
        bridge.exited.then((code) => `exited early with ${code}: ${bridge.output()}`),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), wait)),
      ]);
      expect(early).toBeUndefined();
      bridge.child.kill('SIGKILL');
      await bridge.exited;
    }
    const acceptedBeforeLastRun = sandbox.stats().accepted;

    const last = spawnBridge();
    await waitFor(
      'the last run to commit every record',
      () => allCommitted(admin, groupId, topic),
      90_000,
      250,
    );
    last.child.kill('SIGTERM');
    expect(await last.exited, last.output()).toBe(0);

    const missing = valid.filter((entry) => sandbox.event(entry.eventId!) === undefined);
    expect(missing.map((entry) => entry.eventId)).toEqual([]);
    // Stored once each: a second POST of a stored eventId is answered 409 and stores nothing.
    const stats = sandbox.stats();
    expect(stats.accepted, `kills after ${kills.join(', ')} ms`).toBe(valid.length);
    expect(acceptedBeforeLastRun).toBeGreaterThan(0);
    expect(stats.byStatus['200'] ?? 0).toBeLessThanOrEqual(valid.length);
    // Lost replies (and records redone after a kill) did come back, and only as 409s.
    expect(stats.byStatus['409'] ?? 0).toBeGreaterThan(0);

    const dlqKeys = new Set(
      (await readAll(kafka, `${topic}.dlq`))
        .filter((record) => header(record.headers, 'gong-bridge.reason') === 'GONG_INVALID')
        .map((record) => record.key),
    );
    const invalid = manifest.filter((entry) => entry.kind === 'invalid');
    expect(invalid.filter((entry) => !dlqKeys.has(entry.key))).toEqual([]);
  });
});
