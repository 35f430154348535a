import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/bridge.ts';
import { testKafka } from '../helpers/kafka.ts';
import { httpUrl, tcpFaultProxy, type FaultProxy } from '../helpers/toxiproxy.ts';
import { runScenario, type TracedBridge } from './scenario.ts';

/**
 * Gong recovering from what stops every record at once (issue 13 §4-§6): a credentials halt that
 * a rebalance lands in the middle of, an outage whose records must not linger after it ends, and
 * connections reset while the answer is on its way back. Each ends with the usual books.
 */
describe('chaos: Gong recovers', () => {
  const kafka = testKafka();
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  it('credentials rotated during a rebalance: delivery resumes within two probe intervals', async () => {
    // The halted replica's parked records are aborted by the revoke, and its consumer stays paused
    // through the rejoin, so no record is left to probe with. Before, no probe was ever sent and
    // the replica stayed halted for good (2 calls, halted, unready, forever).
    const probeMs = 1_000;
    const dir = await mkdtemp(join(tmpdir(), 'chaos-token-'));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'revoked-token');
    const recoveredAfter: number[] = [];
    let abandoned = 0;
    let rotatedAt = 0;
    try {
      await runScenario({
        name: 'gong-credentials-rotated',
        kafka,
        admin,
        sandbox: { accessKey: undefined, accessKeySecret: undefined, bearerToken: 'rotated-token' },
        env: {
          GONG_ACCESS_KEY: '',
          GONG_ACCESS_KEY_SECRET: '',
          GONG_BEARER_TOKEN_FILE: tokenFile,
          GONG_AUTH_PROBE_INTERVAL_MS: String(probeMs),
          GONG_AUTH_PROBE_MAX_MS: String(probeMs),
          SHUTDOWN_TIMEOUT_MS: '2000',
        },
        timeoutMs: 90_000,
        during: async ({ bridges, startReplica }) => {
          const first = bridges[0]!;
          await waitFor('the first replica halted', () => first.graph.engine.isHalted(), 30_000, 20);
          // A second replica joins: the first revokes (its parked records are abandoned) and rejoins.
          // The revoke stops the records parked on the halt (none of them is on the wire).
          first.graph.runtime.events.on('rebalance', (event) => {
            if (event.phase === 'revoking') abandoned += event.inFlight;
          });
          const revoked = new Promise<void>((resolve) =>
            first.graph.runtime.events.on('rebalance', (event) => {
              if (event.phase === 'revoked') resolve();
            }),
          );
          const second = await startReplica();
          await revoked;
          await waitFor('both replicas assigned', () => bridges.every(joined), 60_000, 50);
          await waitFor('the second replica halted', () => second.graph.engine.isHalted(), 30_000, 20);
          // Give the old code the time to show it never probes again.
          await new Promise((resolve) => setTimeout(resolve, 2 * probeMs));
          for (const bridge of bridges) {
            bridge.graph.engine.events.on('auth-recovered', () =>
              recoveredAfter.push(performance.now() - rotatedAt),
            );
          }
          rotatedAt = performance.now();
          await writeFile(tokenFile, 'rotated-token');
          await waitFor(
            'every replica delivering again',
            () => bridges.every((bridge) => !bridge.graph.engine.isHalted()),
            10 * probeMs,
            20,
          );
        },
        faults: ({ sandbox }) => ({
          refused401: sandbox.stats().byStatus['401'] ?? 0,
          rebalance: 'second replica joined while halted',
          parkedWhenRevoked: abandoned,
          probeIntervalMs: probeMs,
          resumedAfterRotationMs: recoveredAfter.map((ms) => Math.round(ms)).join('/'),
        }),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(abandoned).toBeGreaterThan(0);
    expect(recoveredAfter).toHaveLength(2);
    for (const ms of recoveredAfter) expect(ms).toBeLessThanOrEqual(2 * probeMs);
  }, 180_000);

  it('outage recovery: every record waiting when Gong comes back is delivered within 5 s', async () => {
    // Production's backoff (0.5 s doubling to 60 s): before, each record's backoff grew on its
    // own and the last ones reached Gong tens of seconds after it had recovered. Waiting means
    // being delivered (MAX_IN_FLIGHT of them): the records still queued behind them follow at the
    // limiter's rate.
    const outageMs = Number(process.env.CHAOS_OUTAGE_MS ?? 10_000);
    let waiting = 0;
    let slowestMs = 0;
    let probes = 0;
    await runScenario({
      name: 'gong-outage-recovery',
      kafka,
      admin,
      env: {
        GONG_RETRY_BASE_MS: '500',
        GONG_RETRY_MAX_MS: '60000',
        GONG_OUTAGE_PROBE_MAX_MS: '2000',
      },
      during: async ({ sandbox, bridges }) => {
        const bridge = bridges[0]!;
        const pending = deliveriesInProgress(bridge);
        bridge.graph.engine.events.on('outage-probe', () => (probes += 1));
        await waitFor('some traffic delivered', () => sandbox.stats().accepted >= 15, 60_000, 20);
        sandbox.setFaults({ outageMs });
        await new Promise((resolve) => setTimeout(resolve, outageMs));
        const recoveredAt = performance.now();
        const atRecovery = new Set(pending.keys());
        waiting = atRecovery.size;
        await waitFor(
          'the records waiting at recovery settled',
          () => [...atRecovery].every((key) => pending.settledAt(key) !== undefined),
          60_000,
          20,
        );
        slowestMs = Math.max(...[...atRecovery].map((key) => pending.settledAt(key)! - recoveredAt));
      },
      faults: ({ sandbox }) => ({
        outageMs,
        outageAnswers: sandbox.stats().byOutcome.outage ?? 0,
        outageProbes: probes,
        waitingAtRecovery: waiting,
        slowestAfterRecoveryMs: Math.round(slowestMs),
      }),
    });
    expect(waiting).toBeGreaterThan(0);
    expect(slowestMs).toBeLessThanOrEqual(5_000);
  }, 180_000);

  it('connections reset while the answer comes back: nothing lost, the calls made are absorbed as 409', async () => {
    const stormMs = Number(process.env.CHAOS_STORM_MS ?? 10_000);
    let proxy: FaultProxy | undefined;
    try {
      const books = await runScenario({
        name: 'gong-reset-mid-response',
        kafka,
        admin,
        gongUrl: async (sandbox) => {
          proxy = await tcpFaultProxy(`${sandbox.host}:${sandbox.port}`);
          // A reply forwarded by Gong and lost on the way back: the call was made and possibly
          // stored, the client sees a reset.
          await proxy.addToxic({
            type: 'reset_peer',
            stream: 'downstream',
            toxicity: 0.3,
            attributes: { timeout: 0 },
          });
          return httpUrl(proxy);
        },
        during: async () => {
          await new Promise((resolve) => setTimeout(resolve, stormMs));
          await proxy?.clearToxics();
        },
        faults: ({ sandbox }) => ({
          stormMs,
          resetToxicity: 0.3,
          storedThenReset: sandbox.stats().duplicates,
          calls: sandbox.stats().calls,
        }),
      });
      expect(books.faults.calls).toBeGreaterThan(books.delivered);
    } finally {
      await proxy?.close();
    }
  }, 180_000);
});

function joined(bridge: TracedBridge): boolean {
  return bridge.graph.runtime.readiness().joined;
}

/**
 * The records a replica is delivering (handed to the engine, not yet settled) and when each one
 * settled: deliver() is wrapped on the replica's own engine, which its runtime calls for every
 * record.
 */
function deliveriesInProgress(bridge: TracedBridge) {
  const engine = bridge.graph.engine as { deliver: TracedBridge['graph']['engine']['deliver'] };
  const deliver = engine.deliver.bind(engine);
  const open = new Set<string>();
  const settled = new Map<string, number>();
  let next = 0;
  engine.deliver = async (body, options) => {
    const id = `${options?.eventId ?? 'record'}#${next++}`;
    open.add(id);
    try {
      return await deliver(body, options);
    } finally {
      open.delete(id);
      settled.set(id, performance.now());
    }
  };
  return {
    keys: () => open,
    settledAt: (id: string) => settled.get(id),
  };
}
