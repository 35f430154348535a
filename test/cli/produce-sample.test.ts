import { describe, expect, it } from 'vitest';
import { freePort as closedPort } from '../helpers/redis.ts';
import { runCli } from './run-cli.ts';

describe('gong-bridge produce-sample', () => {
  // Regression: it printed the connection error, then kafkajs' leftover retry timers kept the
  // process alive for minutes.
  it('exits 1 with one line naming the broker when Kafka is unreachable, instead of hanging', async () => {
    const port = await closedPort();
    const run = await runCli(['produce-sample', '--count', '1', '--topic', 't'], undefined, {
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}`,
    });
    expect(run.code).toBe(1);
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('gong-bridge produce-sample:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
  }, 15_000);
});
