import { AssignerProtocol } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.ts';
import { allCommitted, bridgeEnv } from '../helpers/bridge.ts';
import { testKafka } from '../helpers/kafka.ts';
import { spawnBridgeProcess, whileRunning, type BridgeProcess } from './bridge-process.ts';
import { account } from './harness.ts';
import { expectBalancedBooks, prepareScenario, type PreparedScenario } from './scenario.ts';

/**
 * Two replicas of `gong-bridge run` (processes) share a topic. kafkajs has no static membership
 * and uses the eager protocol, so group membership changes cost the whole group:
 *
 *  - a replica SIGKILLed and restarted at once: its new member joins, the group rebalances, and
 *    the join waits for the dead member until its session expires; nobody delivers meanwhile.
 *    The scenario measures that stall (the longest time without a call reaching Gong) with the
 *    product's session and rebalance timeouts;
 *  - a replica stopped with SIGTERM leaves the group (LeaveGroup), so the other one gets its
 *    partitions at once, not after a session timeout: checked with a 30 s session, against the
 *    group's state as the broker reports it.
 */
describe('chaos: replicas restarted fast, and stopped with SIGTERM', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const rate = 20;

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  async function replicas(prepared: PreparedScenario, overrides: Record<string, string> = {}) {
    const env = bridgeEnv({
      KAFKA_TOPICS: prepared.topic,
      KAFKA_GROUP_ID: prepared.groupId,
      GONG_BASE_URL: prepared.sandbox.url,
      GONG_RATE_PER_SECOND: String(rate),
      LOG_LEVEL: 'info',
      HTTP_PORT: '0',
      ...overrides,
    });
    const running = new Set<BridgeProcess>();
    prepared.cleanups.unshift(async () => {
      for (const bridge of running) await bridge.kill('SIGKILL');
    });
    return {
      env,
      start() {
        const bridge = spawnBridgeProcess(env);
        running.add(bridge);
        void bridge.exited.then(() => running.delete(bridge));
        return bridge;
      },
    };
  }

  /** The group as the broker sees it: state, and the partitions of each member. */
  async function group(groupId: string) {
    const {
      groups: [described],
    } = await admin.describeGroups([groupId]);
    const members = (described?.members ?? []).map((member) => ({
      memberId: member.memberId,
      partitions: Object.values(
        AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {},
      )
        .flat()
        .sort(),
    }));
    return { state: described?.state ?? 'Unknown', members };
  }

  /** The longest time between two calls reaching Gong after `from` (monotonic sandbox time). */
  function longestSilence(sandbox: RunningSandbox, from: number, to: number): number {
    const times = sandbox
      .calls()
      .map((call) => call.t)
      .filter((t) => t >= from && t <= to);
    let longest = 0;
    let previous = from;
    for (const t of [...times, to]) {
      longest = Math.max(longest, t - previous);
      previous = t;
    }
    return Math.round(longest);
  }

  it(
    'a replica SIGKILLed and restarted at once stalls the group until its old session expires',
    { timeout: 600_000 },
    async () => {
      const events = Number(process.env.CHAOS_FAST_RESTART_EVENTS ?? 1_500);
      const prepared = await prepareScenario({ name: 'fast-restart', kafka, admin, events });
      const { sandbox, topic, groupId, records, monitor, dlqTopic } = prepared;
      try {
        const fleet = await replicas(prepared);
        const startedAt = Date.now();
        const survivor = fleet.start();
        let victim = fleet.start();
        await whileRunning(
          survivor,
          'both replicas working',
          async () => {
            const now = await group(groupId);
            return now.state === 'Stable' && now.members.length === 2 && sandbox.stats().accepted >= 100;
          },
          120_000,
          200,
        );
        const clock = () => sandbox.calls().at(-1)?.t ?? 0;
        // Both deliver; then one dies without leaving and comes back a second later.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const killedAt = clock();
        await victim.kill('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        victim = fleet.start();
        await whileRunning(
          survivor,
          'every record committed',
          () => allCommitted(admin, groupId, topic).catch(() => false),
          300_000,
          500,
        );
        const stallMs = longestSilence(sandbox, killedAt, clock());
        expect(await victim.kill('SIGTERM')).toBe(0);
        expect(await survivor.kill('SIGTERM')).toBe(0);
        const books = await account({
          scenario: 'fast-restart',
          kafka,
          dlqTopic,
          records,
          sandbox,
          faults: {
            replicas: 2,
            restartAfterMs: 1_000,
            sessionTimeoutMs: fleet.env.KAFKA_SESSION_TIMEOUT_MS ?? 'default',
            groupStalledMs: stallMs,
          },
          monitor: await monitor.stop(),
          startedAt,
        });
        expectBalancedBooks(books);
        // Nothing reached Gong for about the dead member's session: the figure, not a bound.
        expect(stallMs).toBeGreaterThan(0);
      } finally {
        await prepared.close();
      }
    },
  );

  it(
    'a replica stopped with SIGTERM leaves the group: the other gets its partitions at once',
    { timeout: 300_000 },
    async () => {
      const prepared = await prepareScenario({ name: 'sigterm-leave', kafka, admin, events: 600 });
      const { groupId, sandbox } = prepared;
      try {
        // Without a LeaveGroup the survivor would wait the whole 30 s session for the partitions.
        const fleet = await replicas(prepared, { KAFKA_SESSION_TIMEOUT_MS: '30000' });
        const survivor = fleet.start();
        const leaving = fleet.start();
        await whileRunning(
          survivor,
          'both replicas working',
          async () => {
            const now = await group(groupId);
            return now.state === 'Stable' && now.members.length === 2 && sandbox.stats().accepted >= 50;
          },
          120_000,
          200,
        );
        const sentAt = Date.now();
        const exited = leaving.kill('SIGTERM');
        let takenOverMs = 0;
        await whileRunning(
          survivor,
          'the survivor to hold every partition',
          async () => {
            const now = await group(groupId);
            const done =
              now.state === 'Stable' && now.members.length === 1 && now.members[0]!.partitions.length === 3;
            if (done) takenOverMs = Date.now() - sentAt;
            return done;
          },
          60_000,
          100,
        );
        expect(await exited).toBe(0);
        console.log(
          `chaos sigterm-leave: the survivor held every partition ${takenOverMs} ms after SIGTERM (session 30 s)`,
        );
        expect(takenOverMs).toBeLessThan(15_000);
        await survivor.kill('SIGTERM');
      } finally {
        await prepared.close();
      }
    },
  );
});
