import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './run-cli.ts';

/** `run`, `produce-sample` and `replay-dlq` as processes, where no Kafka is needed to judge them. */
function runWithEnv(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['src/cli/main.ts', ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', HTTP_PORT: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - started }));
  });
}

const base = {
  KAFKA_TOPICS: 'interactions',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1/apis/ccompat/v7',
  GONG_ACCESS_KEY: 'key',
  GONG_ACCESS_KEY_SECRET: 'secret',
};

describe('gong-bridge run (process)', () => {
  it('fails in seconds with exit 4 and the brokers named when Kafka is unreachable (regression: a minute of silent retries)', async () => {
    const result = await runWithEnv(['run'], { ...base, KAFKA_BROKERS: '127.0.0.1:1' });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/Kafka at 127\.0\.0\.1:1 is unavailable/);
    expect(result.ms).toBeLessThan(15_000);
  });

  it('exits 3 naming the variable when a required setting is missing', async () => {
    const result = await runWithEnv(['run'], { ...base, KAFKA_TOPICS: '', KAFKA_BROKERS: '127.0.0.1:1' });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/KAFKA_TOPICS/);
  });

  it('needs SCHEMA_REGISTRY_URL unless every topic is read as schemaless json and receipts are off', async () => {
    const withoutRegistry = { ...base, SCHEMA_REGISTRY_URL: '', KAFKA_BROKERS: '127.0.0.1:1' };
    const avro = await runWithEnv(['run'], withoutRegistry);
    expect(avro.code).toBe(3);
    expect(avro.stderr).toMatch(/SCHEMA_REGISTRY_URL is required/);
    // Past the settings: the mapping file is loaded (and refused) before Kafka is asked anything.
    const json = await runWithEnv(['run'], {
      ...withoutRegistry,
      INPUT_FORMATS: 'json',
      MAPPINGS_FILE: 'test/fixtures/mappings/mappings.yaml',
    });
    expect(json.stderr).not.toMatch(/SCHEMA_REGISTRY_URL/);
    expect(json.code).toBe(3);
    expect(json.stderr).toBe(
      'gong-bridge run: INPUT_FORMATS: topic interactions is read as json, which only mappings can deliver, but no mapping in test/fixtures/mappings/mappings.yaml takes records from it\n',
    );
    // Receipts are Avro registered in the registry, whatever the input topics are.
    const receipts = await runWithEnv(['run'], {
      ...withoutRegistry,
      INPUT_FORMATS: 'json',
      MAPPINGS_FILE: 'test/fixtures/mappings/mappings.yaml',
      KAFKA_RECEIPTS_TOPIC: 'interactions.receipts',
    });
    expect(receipts.code).toBe(3);
    expect(receipts.stderr).toMatch(/SCHEMA_REGISTRY_URL is required/);
  });

  it('rejects unknown arguments with exit 2', async () => {
    expect((await runWithEnv(['run', '--nope'], base)).code).toBe(2);
    expect((await runWithEnv(['produce-sample'], base)).stderr).toMatch(/--count N is required/);
    expect((await runWithEnv(['produce-sample', '--count', '5', '--invalid-ratio', '2'], base)).code).toBe(2);
    expect(
      (await runWithEnv(['replay-dlq', '--reason', 'NOPE'], { ...base, KAFKA_BROKERS: 'x:1' })).code,
    ).toBe(2);
  });
});
