import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Registry } from 'prom-client';
import { describe, expect, inject, it } from 'vitest';
import { systemClock } from '../../src/shared/time.ts';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.ts';
import { bindDeliveryMetrics, bindRuntimeMetrics, createMetrics } from '../../src/observability/metrics.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import {
  inferredSampleKinds,
  makeSampleEvent,
  type InferredSampleKind,
} from '../../src/transform/sample-events.ts';
import { transformEvent, type InteractionEvent } from '../../src/transform/transform.ts';
import {
  allCommitted,
  bridgeEnv,
  header,
  readAll,
  startBridge,
  waitFor,
  type DlqRecord,
} from '../helpers/bridge.ts';
import { createTopics, kafkaTestSuite, uniqueName } from '../helpers/kafka.ts';

/**
 * Issue 14 §7: pre-validation withholds only what Gong's documented contract refuses. Events that
 * break a rule we only inferred go to Gong (flagged); a Gong that refuses them leaves a dead letter
 * naming the rule that predicted it; an operator can withhold them instead. Against real Kafka,
 * Apicurio and the Gong sandbox, with the metrics bound as `gong-bridge run` binds them.
 */
describe('inferred rules in the pipeline', () => {
  const { kafka, admin, cleanups } = kafkaTestSuite();
  const type = newestSchema().type;
  const roundTrip = (event: InteractionEvent) => type.fromBuffer(type.toBuffer(event)) as InteractionEvent;

  /** One event per inferred rule, each breaking that rule alone. */
  function flaggedEvents(): { rule: InferredSampleKind; event: InteractionEvent }[] {
    return inferredSampleKinds.map((rule, seq) => ({
      rule,
      event: makeSampleEvent(seq, () => 0.25, { inferred: true }),
    }));
  }

  /** Past the caps of the old validator (1,000 characters, 4,096 for custom values, 100 items). */
  function longEvent(): InteractionEvent {
    const event = makeSampleEvent(40, () => 0.5);
    event.content.contentTitle = `A very long title ${'x'.repeat(1_500)}`;
    event.content.contentLabel = Array.from({ length: 150 }, (_, index) => `label-${index}`);
    event.customFields = [{ name: 'transcript', value: 'y'.repeat(5_000), dataType: 'STRING' }];
    return event;
  }

  async function pipeline(options: { sandbox?: SandboxOptions; env?: Record<string, string> } = {}) {
    const topic = uniqueName('inferred');
    const dlqTopic = `${topic}.dlq`;
    const groupId = uniqueName('bridge');
    const drop = await createTopics(admin, [topic], 2);
    cleanups.push(async () => {
      await drop();
      await admin.deleteTopics({ topics: [dlqTopic] }).catch(() => {});
    });
    const sandbox: RunningSandbox = await startSandbox({
      accessKey: 'test-key',
      accessKeySecret: 'test-secret',
      rps: 0,
      daily: 0,
      ...options.sandbox,
    });
    cleanups.push(() => sandbox.close());
    const bridge = await startBridge(
      bridgeEnv({ KAFKA_TOPICS: topic, KAFKA_GROUP_ID: groupId, GONG_BASE_URL: sandbox.url, ...options.env }),
    );
    cleanups.push(() => bridge.stop());
    // Bound before anything is produced, so every event is counted.
    const metrics = createMetrics(new Registry(), { version: '0.0.0-test', defaultMetrics: false });
    bindDeliveryMetrics(bridge.graph.engine.events, metrics);
    bindRuntimeMetrics(bridge.graph.runtime.events, metrics, { clock: systemClock });

    const produce = async (events: readonly InteractionEvent[]) => {
      const registry = new SchemaRegistry({ host: inject('services').schemaRegistryUrl });
      const { id } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(newestSchema().schema) },
        { subject: `${topic}-value` },
      );
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic,
        messages: await Promise.all(
          events.map(async (event) => ({ key: event.eventId, value: await registry.encode(id, event) })),
        ),
      });
      await producer.disconnect();
      await waitFor(
        'committed offsets to reach the end offsets',
        () => allCommitted(admin, groupId, topic),
        90_000,
      );
    };
    const counter = async (name: string, labels: Record<string, string>) => {
      const metric = await metrics.registry.getSingleMetric(name)!.get();
      return metric.values.find((entry) =>
        Object.entries(labels).every(([key, want]) => String(entry.labels[key]) === want),
      )?.value;
    };
    const deadLetters = async () => {
      const records = await readAll(kafka, dlqTopic);
      return new Map(records.map((record) => [record.key, record]));
    };
    return { sandbox, produce, counter, deadLetters };
  }

  const headersOf = (record: DlqRecord | undefined) => ({
    reason: header(record?.headers ?? {}, 'gong-bridge.reason'),
    status: header(record?.headers ?? {}, 'gong-bridge.http-status'),
    attempts: header(record?.headers ?? {}, 'gong-bridge.attempts'),
    inferredRules: header(record?.headers ?? {}, 'gong-bridge.inferred-rules'),
  });

  it('by default sends events that break only inferred rules or pass the old caps: they reach Gong as transformed', async () => {
    const { sandbox, produce, counter, deadLetters } = await pipeline();
    const flagged = flaggedEvents();
    const long = longEvent();
    const documented = makeSampleEvent(41, () => 0.5, { invalid: true });
    await produce([...flagged.map(({ event }) => event), long, documented]);

    // Every one of them reached Gong ...
    const sent = [...flagged, { rule: 'long', event: long }];
    expect(
      sent.filter(({ event }) => sandbox.event(event.eventId) === undefined).map(({ rule }) => rule),
    ).toEqual([]);
    // ... as the body the transform makes, inferred breaches and long values included.
    for (const { rule, event } of sent) {
      const expected = transformEvent(roundTrip(event));
      expect(expected.ok, rule).toBe(true);
      expect(sandbox.event(event.eventId)?.body, rule).toEqual(expected.ok ? expected.body : undefined);
    }
    const byRule = new Map(flagged.map(({ rule, event }) => [rule, sandbox.event(event.eventId)?.body]));
    expect(byRule.get('numeric-value-in-range')).toMatchObject({
      content: { numericContentDetails: { value: 11, rangeFrom: 0, rangeTo: 10 } },
    });
    expect(byRule.get('step-in-available-steps')).toMatchObject({
      content: { stepContentDetails: { value: 'Module 9', availableSteps: ['Enrolled', 'Completed'] } },
    });
    expect(sandbox.stats()).toMatchObject({
      accepted: flagged.length + 1,
      byStatus: { '200': flagged.length + 1 },
    });

    // Only the event that breaks a documented rule is dead-lettered, without a call.
    const dlq = await deadLetters();
    expect([...dlq.keys()]).toEqual([documented.eventId]);
    expect(headersOf(dlq.get(documented.eventId))).toEqual({
      reason: 'GONG_INVALID',
      status: undefined,
      attempts: '0',
      inferredRules: undefined,
    });
    expect(sandbox.event(documented.eventId)).toBeUndefined();

    for (const rule of inferredSampleKinds) {
      expect(await counter('gong_bridge_inferred_rule_flagged_total', { rule, action: 'sent' }), rule).toBe(
        1,
      );
      expect(
        await counter('gong_bridge_inferred_rule_verdicts_total', { rule, verdict: 'refuted' }),
        rule,
      ).toBe(1);
      expect(
        await counter('gong_bridge_inferred_rule_verdicts_total', { rule, verdict: 'confirmed' }),
        rule,
      ).toBe(0);
    }
  });

  it('when Gong answers 400 to a flagged event, its dead letter names the rule that predicted it, and the rule counts as confirmed', async () => {
    const { sandbox, produce, counter, deadLetters } = await pipeline({ sandbox: { strict: true } });
    const flagged = flaggedEvents();
    const valid = makeSampleEvent(42, () => 0.5);
    await produce([...flagged.map(({ event }) => event), valid]);

    expect(sandbox.stats()).toMatchObject({
      accepted: 1,
      byStatus: { '200': 1, '400': flagged.length },
    });
    const dlq = await deadLetters();
    expect(dlq.size).toBe(flagged.length);
    for (const { rule, event } of flagged) {
      const record = dlq.get(event.eventId);
      expect(headersOf(record), rule).toEqual({
        reason: 'GONG_REJECTED',
        status: '400',
        attempts: '1',
        inferredRules: rule,
      });
      // Gong's own errors[] travel in the dead letter; the strict sandbox names the rule too.
      expect(JSON.parse(header(record!.headers, 'gong-bridge.errors')!), rule).toEqual([
        expect.stringContaining(`[inferred rule ${rule}]`),
      ]);
      expect(header(record!.headers, 'gong-bridge.request-id'), rule).toMatch(/^[0-9a-z]{19}$/);
      expect(
        await counter('gong_bridge_inferred_rule_verdicts_total', { rule, verdict: 'confirmed' }),
        rule,
      ).toBe(1);
      expect(await counter('gong_bridge_inferred_rule_flagged_total', { rule, action: 'sent' }), rule).toBe(
        1,
      );
    }
  });

  it('GONG_INFERRED_RULES=reject withholds them without a call, naming the rule in the dead letter', async () => {
    const { sandbox, produce, counter, deadLetters } = await pipeline({
      env: { GONG_INFERRED_RULES: 'reject' },
    });
    const flagged = flaggedEvents();
    const valid = makeSampleEvent(43, () => 0.5);
    await produce([...flagged.map(({ event }) => event), valid]);

    expect(sandbox.stats()).toMatchObject({ calls: 1, accepted: 1 });
    const dlq = await deadLetters();
    expect(dlq.size).toBe(flagged.length);
    for (const { rule, event } of flagged) {
      const record = dlq.get(event.eventId);
      expect(headersOf(record), rule).toEqual({
        reason: 'GONG_INVALID',
        status: undefined,
        attempts: '0',
        inferredRules: rule,
      });
      expect(JSON.parse(header(record!.headers, 'gong-bridge.errors')!), rule).toEqual([
        expect.stringMatching(new RegExp(` \\[inferred rule ${rule}\\]$`)),
      ]);
      expect(
        await counter('gong_bridge_inferred_rule_flagged_total', { rule, action: 'withheld' }),
        rule,
      ).toBe(1);
    }
  });

  it('GONG_INFERRED_RULES_REJECT withholds only the rules it lists; the rest are still sent', async () => {
    const withheld = ['numeric-value-in-range', 'steps-not-empty'];
    const { sandbox, produce, deadLetters } = await pipeline({
      env: { GONG_INFERRED_RULES_REJECT: withheld.join(',') },
    });
    const flagged = flaggedEvents();
    await produce(flagged.map(({ event }) => event));

    const dlq = await deadLetters();
    expect([...dlq.values()].map((record) => headersOf(record).inferredRules).sort()).toEqual(
      withheld.sort(),
    );
    for (const { rule, event } of flagged) {
      expect(sandbox.event(event.eventId) !== undefined, rule).toBe(!withheld.includes(rule));
    }
    expect(sandbox.stats().calls).toBe(flagged.length - withheld.length);
  });
});
