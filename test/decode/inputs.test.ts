import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadInputs, topicFormats } from '../../src/decode/inputs.ts';
import type { LatestSchema, RegistryLookup } from '../../src/decode/registry.ts';
import { BridgeError, isBridgeError } from '../../src/errors.ts';
import { loadConfig } from '../../src/config/config.ts';
import { loadWorkedExamples, mappingsFile } from '../mapping/worked-examples.ts';

const examples = loadWorkedExamples();
const topics = examples.map((example) => example.topic);
const formats = examples.map((example) => `${example.topic}:${example.format}`);

/** The worked examples' mapping file, with one line changed. */
function mappingsWith(from: string, to: string): (path: string) => string {
  return (path) => {
    const text = readFileSync(path, 'utf8');
    if (path !== mappingsFile) return text;
    if (!text.includes(from)) throw new Error(`the fixture has no ${from}`);
    return text.replace(from, to);
  };
}

/** A registry holding the worked examples' schemas under <topic>-value, version 3. */
function registryOf(overrides: Record<string, Partial<LatestSchema> | Error> = {}) {
  const asked: string[] = [];
  const registry: Pick<RegistryLookup, 'latest'> = {
    async latest(subject) {
      asked.push(subject);
      const override = overrides[subject];
      if (override instanceof Error) throw override;
      const example = examples.find((candidate) => `${candidate.topic}-value` === subject);
      if (example === undefined) return undefined;
      return {
        id: 40 + examples.indexOf(example),
        subject,
        version: 3,
        schemaType: example.schemaType,
        schema: example.schemaText,
        references: [],
        ...override,
      };
    },
  };
  return { registry, asked };
}

async function failure(promise: Promise<unknown>): Promise<BridgeError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isBridgeError(error)) throw new Error(`expected a BridgeError, got ${String(error)}`);
  return error;
}

describe('INPUT_FORMATS', () => {
  it('parses topic:format entries and a bare default, and refuses what is not a format', () => {
    expect(loadConfig({ INPUT_FORMATS: 'json, a.b:avro,c-d:protobuf' }).INPUT_FORMATS).toEqual([
      'json',
      'a.b:avro',
      'c-d:protobuf',
    ]);
    for (const [value, message] of [
      ['a:xml', '"a:xml": "xml" is not a format (avro, json-schema, protobuf, json)'],
      [':json', '":json" names no topic before the colon'],
      ['json,avro', 'names more than one default format'],
      ['a:json,a:avro', 'names topic a twice'],
    ] as const) {
      expect(() => loadConfig({ INPUT_FORMATS: value }), value).toThrow(message);
    }
  });

  it('gives each topic its format, the default avro, or the bare entry', () => {
    const named = (entries?: string[]) =>
      Object.fromEntries(
        [...topicFormats(['a', 'b', 'c'], entries)].map(([topic, format]) => [topic, format.name]),
      );
    expect(named()).toEqual({ a: 'avro', b: 'avro', c: 'avro' });
    expect(named(['b:json-schema'])).toEqual({ a: 'avro', b: 'json-schema', c: 'avro' });
    expect(named(['protobuf', 'a:avro'])).toEqual({ a: 'avro', b: 'protobuf', c: 'protobuf' });
  });

  it('refuses a topic that is not an input topic, with the one meant', () => {
    expect(() => topicFormats(['web.page-views'], ['web.pageviews:avro'])).toThrow(
      'INPUT_FORMATS names web.pageviews (did you mean web.page-views?), not in KAFKA_TOPICS (web.page-views)',
    );
  });
});

describe('loading the inputs at start-up', () => {
  it('checks each mapping against the newest schema the registry holds for its topic', async () => {
    const { registry, asked } = registryOf();
    const inputs = await loadInputs({ topics, formats, mappingsFile, registry });
    expect([...inputs.formats.values()].map((format) => format.name)).toEqual([
      'avro',
      'json-schema',
      'protobuf',
    ]);
    expect(inputs.mappings?.mappings.map((mapping) => mapping.knownFields?.source)).toEqual([
      'Avro record acme.web.PageView (subject web.page-views-value version 3)',
      'JSON Schema Signup (subject product.signups-value version 3)',
      'Protobuf message acme.media.VideoProgress (subject media.video-progress-value version 3)',
    ]);
    expect(asked.sort()).toEqual(topics.map((topic) => `${topic}-value`).sort());
  });

  it('stops start-up for a field the registry schema lacks, naming the file, line, mapping, field and expression', async () => {
    const error = await failure(
      loadInputs({
        topics,
        formats,
        mappingsFile,
        registry: registryOf().registry,
        readFile: mappingsWith('contentTitle: videoTitle', 'contentTitle: videoTitel'),
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`MAPPINGS_FILE ${mappingsFile} has a problem:`);
    expect(error.message).toMatch(
      /mappings\.yaml:\d+:\d+: mapping "video-progress", content\.contentTitle: field videoTitel does not exist in Protobuf message acme\.media\.VideoProgress \(subject media\.video-progress-value version 3\); did you mean videoTitle\?/,
    );
    expect(error.message).toContain('expression: videoTitel');
  });

  it('stops start-up for an expression that does not compile', async () => {
    const error = await failure(
      loadInputs({
        topics,
        formats,
        mappingsFile,
        readFile: mappingsWith(
          `eventType: "trial ? 'trial started' : 'signed up'"`,
          `eventType: "trial ? 'trial started"`,
        ),
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/mapping "product-signup", eventType: does not compile: .*\(JSONata S0101/);
    expect(error.message).toContain("expression: trial ? 'trial started");
  });

  it('checks against the schema: file when the registry cannot answer, and says so', async () => {
    const warnings: string[] = [];
    const { registry } = registryOf({
      'web.page-views-value': new BridgeError(
        'REGISTRY_UNAVAILABLE',
        'schema registry lookup failed: no answer',
      ),
    });
    const inputs = await loadInputs({
      topics,
      formats,
      mappingsFile,
      registry,
      onWarning: (message) => warnings.push(message),
    });
    expect(inputs.mappings?.mappings[0]?.knownFields?.source).toBe(
      'Avro record acme.web.PageView (page-view.avsc)',
    );
    expect(warnings).toEqual([
      expect.stringContaining(
        'the registry could not give subject web.page-views-value for mapping "web-page-view"',
      ),
    ]);
  });

  it('leaves a subject holding another record to the schema: file', async () => {
    const other = JSON.stringify({
      type: 'record',
      name: 'acme.web.Click',
      fields: [{ name: 'id', type: 'string' }],
    });
    const { registry } = registryOf({ 'web.page-views-value': { schema: other } });
    const inputs = await loadInputs({ topics, formats, mappingsFile, registry });
    expect(inputs.mappings?.mappings[0]?.knownFields?.source).toBe(
      'Avro record acme.web.PageView (page-view.avsc)',
    );
  });

  it('refuses a topic read as JSON or Protobuf that no mapping can take', async () => {
    const withoutFile = await failure(loadInputs({ topics: ['signups'], formats: ['signups:json'] }));
    expect(withoutFile.message).toBe(
      'INPUT_FORMATS: topic signups is read as json, which only mappings can deliver, but MAPPINGS_FILE is not set',
    );
    const notTaken = await failure(
      loadInputs({ topics: [...topics, 'other'], formats: [...formats, 'other:protobuf'], mappingsFile }),
    );
    expect(notTaken.message).toBe(
      `INPUT_FORMATS: topic other is read as protobuf, which only mappings can deliver, but no mapping in ${mappingsFile} takes records from it`,
    );
  });
});
