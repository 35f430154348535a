import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../helpers/kafka.ts';
import { kafkaFaultProxy, type KafkaFaultProxy } from '../helpers/toxiproxy.ts';
import { runScenario, type ScenarioContext } from './scenario.ts';

/**
 * The network between the bridge and the broker, through Toxiproxy (issue 13 §6): replies the
 * broker sent that never arrive, for dead-letter produces and for offset commits, and a fetch
 * response cut off mid-transfer. Every connection of the bridge goes through the shared broker
 * proxy; the harness itself (traffic, books, commit monitor) talks to the broker directly.
 */
describe('chaos: broker connection faults', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  let proxy: KafkaFaultProxy;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    await admin.connect();
    proxy = await kafkaFaultProxy();
  });

  afterAll(async () => {
    await proxy?.close();
    await admin.disconnect();
  });

  /**
   * Holds every reply from the broker for 400 ms, and each time `served` says a request has
   * taken effect on the broker (read directly, not through the proxy), resets the connections:
   * the reply still held is lost. Up to `times` times within `withinMs`.
   *
   * The reset toxic is in the chain from the start, after the latency, switched on and off by its
   * toxicity: adding a toxic interrupts the one before it, and Toxiproxy's latency toxic then lets
   * the reply it holds through at once, which is exactly the reply that must be lost.
   */
  async function loseRepliesOnceServed(
    served: () => Promise<boolean>,
    times: number,
    withinMs: number,
  ): Promise<number> {
    await proxy.addToxic({ type: 'latency', attributes: { latency: 400, jitter: 0 } });
    let reset = await proxy.addToxic({ type: 'reset_peer', attributes: { timeout: 0 }, toxicity: 0 });
    let lost = 0;
    const deadline = Date.now() + withinMs;
    try {
      while (lost < times && Date.now() < deadline) {
        if (await served().catch(() => false)) {
          reset = await reset.update({ ...reset.toJson(), toxicity: 1 });
          lost += 1;
          await sleep(500);
          reset = await reset.update({ ...reset.toJson(), toxicity: 0 });
        }
        await sleep(10);
      }
    } finally {
      await proxy.clearToxics();
    }
    return lost;
  }

  /** Whether a sum read from the broker grew since the last call. */
  function grew(read: (fresh: Admin) => Promise<number>): () => Promise<boolean> {
    let last: number | undefined;
    return async () => {
      const now = await read(admin);
      const grown = last !== undefined && now > last;
      last = now;
      return grown;
    };
  }

  function counter(context: ScenarioContext, event: 'dlq-write-failed' | 'commit-failed') {
    let count = 0;
    for (const bridge of context.bridges ?? []) bridge.graph.runtime.events.on(event, () => (count += 1));
    return () => count;
  }

  it('lost replies to dead-letter produces: every letter stored (some twice), none acknowledged unstored', async () => {
    let lost = 0;
    let failures = () => 0;
    const books = await runScenario({
      name: 'dlq-lost-replies',
      kafka,
      admin,
      brokers: proxy.brokers.join(','),
      // Gong rejects nothing, so the bad records are the only dead letters; slow enough that
      // they trickle in several batches while the fault is on.
      env: { MAX_IN_FLIGHT: '4' },
      during: async (context) => {
        failures = counter(context, 'dlq-write-failed');
        lost = await loseRepliesOnceServed(
          grew(async (fresh) =>
            (await fresh.fetchTopicOffsets(context.dlqTopic)).reduce((sum, end) => sum + Number(end.high), 0),
          ),
          3,
          20_000,
        );
      },
      faults: () => ({ lostProduceReplies: lost, dlqWriteFailures: failures() }),
    });
    expect(lost).toBeGreaterThan(0);
    // Each lost reply was seen as a failure and the batch written again: stored twice, never
    // acknowledged without being stored (the books would show it lost).
    expect(failures()).toBeGreaterThan(0);
    expect(books.dlqDuplicates).toBeGreaterThan(0);
  });

  it('lost replies to offset commits: nothing is committed past an unsettled record, nothing lost', async () => {
    let lost = 0;
    let failures = () => 0;
    const books = await runScenario({
      name: 'commit-lost-replies',
      kafka,
      admin,
      brokers: proxy.brokers.join(','),
      during: async (context) => {
        failures = counter(context, 'commit-failed');
        lost = await loseRepliesOnceServed(
          grew(async (fresh) => {
            const [committed] = await fresh.fetchOffsets({
              groupId: context.groupId,
              topics: [context.topic],
            });
            return (committed?.partitions ?? []).reduce(
              (sum, entry) => sum + Math.max(0, Number(entry.offset)),
              0,
            );
          }),
          3,
          20_000,
        );
      },
      faults: () => ({ lostCommitReplies: lost, commitFailures: failures() }),
    });
    // kafkajs retries a commit whose reply was lost (committing the same offset twice is
    // harmless), so `commitFailures` may stay 0; the books are what must hold.
    expect(lost).toBeGreaterThan(0);
    expect(books.commitSamples).toBeGreaterThan(0);
  });

  it('a fetch response cut mid-transfer: fetching starts over, nothing is skipped or lost', async () => {
    const cutMs = 4_000;
    const limitBytes = 16_384;
    let consumedWhileCut = -1;
    await runScenario({
      name: 'fetch-cut',
      kafka,
      admin,
      brokers: proxy.brokers.join(','),
      // Every connection closes after 16 KiB from the broker: enough for start-up (metadata,
      // join, offsets), not for a fetch response carrying the traffic (about 45 KiB for 120 events).
      beforeStart: async () => {
        await proxy.addToxic({ type: 'limit_data', attributes: { bytes: limitBytes } });
      },
      during: async (context) => {
        await sleep(cutMs);
        consumedWhileCut = (context.bridges ?? []).reduce(
          (sum, bridge) => sum + bridge.graph.runtime.stats().consumed,
          0,
        );
        await proxy.clearToxics();
      },
      faults: () => ({ limitBytes, cutMs, consumedWhileCut }),
    });
    // The records were there all along; only cut fetches kept them from the bridge.
    expect(consumedWhileCut).toBe(0);
  });
});
