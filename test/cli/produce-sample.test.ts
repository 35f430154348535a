import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort as closedPort } from '../helpers/redis.ts';
import { repoRoot } from './run-cli.ts';

describe('gong-bridge produce-sample', () => {
  // Regression: it printed the connection error, then kafkajs' leftover retry timers kept the
  // process alive for minutes.
  it('exits 1 with one line naming the broker when Kafka is unreachable, instead of hanging', async () => {
    const port = await closedPort();
    const child = spawn(
      process.execPath,
      ['src/cli/main.ts', 'produce-sample', '--count', '1', '--topic', 't'],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '',
          KAFKA_BROKERS: `127.0.0.1:${port}`,
          SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}`,
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
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
  }, 15_000);
});
