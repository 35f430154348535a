import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { uniqueName } from '../helpers/kafka.ts';
import { freePort as closedPort } from '../helpers/redis.ts';
import { repoRoot } from './run-cli.ts';

describe('gong-bridge produce-sample against a real broker', () => {
  // Regression: with Kafka up and the registry down it said Kafka was unavailable.
  it('blames the schema registry, by URL, when only the registry is down', async () => {
    const port = await closedPort();
    const child = spawn(
      process.execPath,
      ['src/cli/main.ts', 'produce-sample', '--count', '1', '--topic', uniqueName('sample'), '--create-topic'],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '',
          KAFKA_BROKERS: inject('services').kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}/apis/ccompat/v7`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    const lines = stderr.split('\n').filter((line) => line.startsWith('gong-bridge produce-sample:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('schema registry');
    expect(lines[0]).toContain(`http://127.0.0.1:${port}/apis/ccompat/v7`);
    expect(lines[0]).not.toMatch(/kafka/i);
  }, 30_000);
});
