import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Kafka,
  logLevel,
  ResourcePatternTypes,
  type Admin,
} from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/bridge.ts';
import { startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.ts';
import { runScenario } from './scenario.ts';

/**
 * The dead-letter topic refuses writes (an ACL denies them) from the start of the run, then is
 * opened again. That is a halt (issue 13 §2): the replica pauses fetching and turns unready, and
 * probes until a write succeeds. Records already fetched keep flowing to Gong the whole time, and
 * no bad record's offset may be committed while its dead letter cannot be written. A broker of
 * its own, with ACLs on, so the shared stack is untouched.
 */
describe('chaos: DLQ topic unavailable', () => {
  let broker: SecureKafka;
  let kafka: Kafka;
  const blockedMs = Number(process.env.CHAOS_DLQ_BLOCKED_MS ?? 8_000);

  beforeAll(async () => {
    broker = await startSecureKafka({ authorizer: true });
    kafka = kafkaClient({
      clientId: 'chaos-dlq',
      brokers: [`127.0.0.1:${broker.ports.plaintext}`],
      logLevel: logLevel.NOTHING,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
  });

  const acl = (topic: string, operation: AclOperationTypes, permissionType: AclPermissionTypes) => ({
    resourceType: AclResourceTypes.TOPIC,
    resourceName: topic,
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:ANONYMOUS',
    host: '*',
    operation,
    permissionType,
  });
  // Once a topic has any ACL, allow.everyone.if.no.acl.found no longer covers it: allow all, and
  // deny writes, which wins over the allow.
  const blockWrites = (topic: string) => [
    acl(topic, AclOperationTypes.ALL, AclPermissionTypes.ALLOW),
    acl(topic, AclOperationTypes.WRITE, AclPermissionTypes.DENY),
  ];

  /** Committed offsets of the group right now, per partition (-1 when none). */
  async function committedNow(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint>> {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((committed?.partitions ?? []).map((entry) => [entry.partition, BigInt(entry.offset)]));
  }

  it('keeps delivering good records while dead letters wait, and commits no bad record early', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const earlyCommits: string[] = [];
    let validDeliveredWhileBlocked = 0;
    let haltedWhileBlocked = false;
    let unreadyWhileBlocked = false;
    let resumedAfterMs = -1;
    try {
      const books = await runScenario({
        name: 'dlq-unavailable',
        kafka,
        admin,
        brokers: `127.0.0.1:${broker.ports.plaintext}`,
        beforeStart: async ({ dlqTopic }) => {
          await admin.createAcls({ acl: blockWrites(dlqTopic) });
        },
        during: async ({ sandbox, topic, dlqTopic, groupId, records, bridges }) => {
          const runtime = bridges?.[0]?.graph.runtime;
          const valid = records.filter((record) => record.kind === 'valid').length;
          const bad = records.filter((record) => record.kind !== 'valid');
          const deadline = Date.now() + blockedMs;
          // While the DLQ refuses writes, watch the commits: none may pass a bad record.
          while (Date.now() < deadline) {
            const committed = await committedNow(admin, groupId, topic).catch(
              () => new Map<number, bigint>(),
            );
            for (const record of bad) {
              const offset = committed.get(record.partition);
              if (offset !== undefined && offset > record.offset) {
                earlyCommits.push(`${topic}[${record.partition}]@${record.offset} below committed ${offset}`);
              }
            }
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          const dlqEnds = await admin.fetchTopicOffsets(dlqTopic);
          expect(dlqEnds.every((end) => end.high === '0')).toBe(true);
          await waitFor(
            'every valid event delivered while the DLQ is blocked',
            () => sandbox.stats().accepted >= valid,
            60_000,
          );
          validDeliveredWhileBlocked = sandbox.stats().accepted;
          haltedWhileBlocked = runtime?.readiness().halts.includes('dlq') === true;
          unreadyWhileBlocked = runtime?.readiness().ready === false;
          await admin.deleteAcls({
            filters: [acl(dlqTopic, AclOperationTypes.WRITE, AclPermissionTypes.DENY)],
          });
          // The next probe finds the topic writable again: the halt ends by itself.
          const opened = Date.now();
          await waitFor('the DLQ halt to end', () => runtime?.readiness().halts.length === 0, 30_000);
          resumedAfterMs = Date.now() - opened;
        },
        faults: () => ({
          dlqBlockedMs: blockedMs,
          validDeliveredWhileBlocked,
          earlyCommits: earlyCommits.length,
          haltedWhileBlocked: String(haltedWhileBlocked),
          haltEndedAfterMs: resumedAfterMs,
        }),
      });
      expect(earlyCommits).toEqual([]);
      expect(validDeliveredWhileBlocked).toBe(books.valid);
      expect({ haltedWhileBlocked, unreadyWhileBlocked }).toEqual({
        haltedWhileBlocked: true,
        unreadyWhileBlocked: true,
      });
      // Probes back off to at most 10 s.
      expect(resumedAfterMs).toBeLessThan(12_000);
    } finally {
      await admin.disconnect();
    }
  });
});
