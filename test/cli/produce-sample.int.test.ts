import { describe, expect, inject, it } from 'vitest';
import { uniqueName } from '../helpers/kafka.ts';
import { freePort as closedPort } from '../helpers/redis.ts';
import { runCli } from './run-cli.ts';

describe('gong-bridge produce-sample against a real broker', () => {
  // Regression: with Kafka up and the registry down it said Kafka was unavailable.
  it('blames the schema registry, by URL, when only the registry is down', async () => {
    const port = await closedPort();
    const registryUrl = `http://127.0.0.1:${port}/apis/ccompat/v7`;
    const run = await runCli(
      ['produce-sample', '--count', '1', '--topic', uniqueName('sample'), '--create-topic'],
      undefined,
      { KAFKA_BROKERS: inject('services').kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: registryUrl },
    );
    expect(run.code).toBe(1);
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('gong-bridge produce-sample:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('schema registry');
    expect(lines[0]).toContain(registryUrl);
    expect(lines[0]).not.toMatch(/kafka/i);
  }, 30_000);
});
