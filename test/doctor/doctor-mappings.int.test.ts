import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runDoctor, type CheckResult } from '../../src/doctor/checks.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { mappingDirectory } from '../helpers/mappings.ts';
import { registerSchema } from '../helpers/registry.ts';
import { loadWorkedExamples } from '../mapping/worked-examples.ts';

/**
 * doctor's mapping check against the real registry: the worked examples' mappings run over
 * records generated from the schemas registered for their topics.
 */
const services = inject('services');
const examples = loadWorkedExamples();
const topicOf = new Map(examples.map((example) => [example, uniqueName(example.topic)]));
const topics = [...topicOf.values()];
const dirs: string[] = [];
let admin: Admin;
let dropTopics: () => Promise<void>;

beforeAll(async () => {
  admin = testKafka().admin();
  await admin.connect();
  dropTopics = await createTopics(admin, [...topics, `${topics[0]}.dlq`], 1);
  for (const example of examples) {
    await registerSchema(services.schemaRegistryUrl, `${topicOf.get(example)}-value`, {
      schemaType: example.schemaType,
      schema: example.schemaText,
    });
  }
});

afterAll(async () => {
  await dropTopics?.();
  await admin?.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function mappingsCheck(edit?: (text: string) => string): Promise<CheckResult> {
  const dir = mappingDirectory(topicOf, edit);
  dirs.push(dir);
  const results = await runDoctor({
    env: {
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
      KAFKA_TOPICS: topics.join(','),
      INPUT_FORMATS: examples.map((example) => `${topicOf.get(example)}:${example.format}`).join(','),
      MAPPINGS_FILE: join(dir, 'mappings.yaml'),
      KAFKA_CONNECTION_TIMEOUT_MS: '3000',
      SCHEMA_REGISTRY_URL: services.schemaRegistryUrl,
      GONG_BASE_URL: 'http://127.0.0.1:1',
      GONG_ACCESS_KEY: 'k',
      GONG_ACCESS_KEY_SECRET: 's',
    },
    timeoutMs: 5_000,
    gongAuth: false,
    createDlq: false,
  });
  expect(results.find((result) => result.id === 'subjects')?.status).toBe('ok');
  return results.find((result) => result.id === 'mappings')!;
}

describe('gong-bridge doctor: mappings over generated records', () => {
  it('runs each mapping over records generated from the newest schema of its subject, and names the required fields Protobuf may leave empty', async () => {
    const check = await mappingsCheck();
    expect(check.status).toBe('warn');
    const [pageView, signup, video] = topics;
    expect(check.detail).toContain(
      `web-page-view: fills every field it maps on 40 records from subject ${pageView}-value version 1`,
    );
    expect(check.detail).toContain(
      `product-signup: fills every field it maps on 40 records from subject ${signup}-value version 1`,
    );
    expect(check.detail).toMatch(
      new RegExp(
        `video-progress on 40 records from subject ${video}-value version 1: may leave required (eventId|timestamp|content\\.contentTitle) \\(\\d+ of 40\\)`,
      ),
    );
    expect(check.fix).toContain('$coalesce');
  });

  it('names a Gong field the mapping can never fill', async () => {
    const check = await mappingsCheck((text) =>
      text.replace('contentUrl: page.url', `contentUrl: "page.path = 'nowhere' ? page.url"`),
    );
    expect(check.detail).toContain('web-page-view on 40 records from subject');
    expect(check.detail).toContain('never fills content.contentUrl');
  });

  it('fails on a mapping that does not load, with the file, the mapping and the expression', async () => {
    const check = await mappingsCheck((text) =>
      text.replace('contentTitle: videoTitle', 'contentTitle: videoTitel'),
    );
    expect(check.status).toBe('fail');
    expect(check.detail).toMatch(
      /mappings\.yaml:\d+:\d+: mapping "video-progress", content\.contentTitle: field videoTitel does not exist in Protobuf message acme\.media\.VideoProgress \(subject .* version 1\); did you mean videoTitle\?/,
    );
    expect(check.fix).toContain('MAPPINGS_FILE');
  });
});
