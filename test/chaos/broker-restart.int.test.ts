import { type Kafka, logLevel } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/bridge.ts';
import { startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.ts';
import { runScenario } from './scenario.ts';

/**
 * The Kafka broker is killed (SIGKILL) in the middle of a run and started again on the same
 * data. The shared stack's broker is never touched: this scenario has a broker of its own.
 *
 * Part of the integration tier (about 55 s with the broker's start-up). It guards the fix for a
 * stall it found: while kafkajs restarted the crashed consumer, commitOffsets resolved without
 * committing, the runtime took that as a commit and skipped the refetched records below it, and
 * one partition never committed again. docs/reliability.md has the details.
 */
describe('chaos: Kafka broker killed and restarted mid-run', () => {
  let broker: SecureKafka;
  let kafka: Kafka;
  const downMs = Number(process.env.CHAOS_BROKER_DOWN_MS ?? 3_000);

  beforeAll(async () => {
    broker = await startSecureKafka();
    kafka = kafkaClient({
      clientId: 'chaos-broker',
      brokers: [`127.0.0.1:${broker.ports.plaintext}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
  });

  it(
    'ends with every record delivered or dead-lettered, none lost, no commit past an unsettled record',
    { timeout: 400_000 },
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      let kills = 0;
      let restartMs = 0;
      try {
        const books = await runScenario({
          name: 'broker-restart',
          kafka,
          admin,
          brokers: `127.0.0.1:${broker.ports.plaintext}`,
          // Slow enough that the kill lands mid-run, not after the last commit.
          env: { GONG_RATE_PER_SECOND: '10', KAFKA_SESSION_TIMEOUT_MS: '6000' },
          during: async ({ sandbox }) => {
            await waitFor(
              'a fifth of the traffic delivered',
              () => sandbox.stats().accepted >= 20,
              60_000,
              50,
            );
            await broker.kill();
            kills++;
            await new Promise((resolve) => setTimeout(resolve, downMs));
            const started = Date.now();
            await broker.restart();
            restartMs = Date.now() - started;
          },
          faults: () => ({ brokerKills: kills, downMs, restartMs }),
          timeoutMs: 150_000,
        });
        expect(books.faults.brokerKills).toBe(1);
      } finally {
        await admin.disconnect();
      }
    },
  );
});
