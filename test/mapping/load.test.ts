import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/command.ts';
import { BridgeError } from '../../src/errors.ts';
import {
  compileMappings,
  fromAvro,
  loadMappings,
  type LoadMappingsOptions,
  type MappingSet,
} from '../../src/mapping/index.ts';
import { loadSchemaFile } from '../../src/schemas/registry-files.ts';
import { fixturesDir } from './worked-examples.ts';

const file = '/etc/gong-bridge/mappings.yaml';

/** Schema files as loadMappings would find them beside the mapping file. */
const schemaFiles: Record<string, string> = {
  '/etc/gong-bridge/page-view.avsc': readFileSync(`${fixturesDir}page-view.avsc`, 'utf8'),
  '/etc/gong-bridge/signup.schema.json': readFileSync(`${fixturesDir}signup.schema.json`, 'utf8'),
  '/etc/gong-bridge/video-progress.proto': readFileSync(`${fixturesDir}video-progress.proto`, 'utf8'),
};
const readFile = (path: string) => {
  const text = schemaFiles[path];
  if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
  return text;
};

function compile(text: string, options: LoadMappingsOptions = {}): MappingSet {
  return compileMappings(text, { file, readFile, ...options });
}

/** The CONFIG_INVALID a bad file raises, and its problem lines. */
function problemsOf(
  text: string,
  options: LoadMappingsOptions = {},
): { error: BridgeError; problems: string[] } {
  try {
    compile(text, options);
  } catch (error) {
    expect(error).toBeInstanceOf(BridgeError);
    const bridge = error as BridgeError;
    expect(bridge.code).toBe('CONFIG_INVALID');
    expect(bridge.retriable).toBe(false);
    expect(bridge.context.variable).toBe('MAPPINGS_FILE');
    return { error: bridge, problems: [...(bridge.context.details ?? [])] };
  }
  throw new Error('expected the mapping file to be refused');
}

const minimalBody = `
    body:
      eventId: id
      timestamp: $timestamp(at)
      eventType: { const: thing happened }
      content:
        contentTitle: title`;

function oneMapping(body: string, extra = ''): string {
  return `version: 1
mappings:
  - name: things
    match: { topics: things }${extra}
${body}`;
}

describe('loadMappings: start-up errors stop start-up (CONFIG_INVALID, exit 3)', () => {
  it('CONFIG_INVALID is the exit-3 code', () => {
    expect(ExitCode.config).toBe(3);
  });

  it('names the file, line, mapping, field and expression of an expression that does not compile', () => {
    const { error, problems } = problemsOf(
      oneMapping(`    body:
      eventId: id
      timestamp: $timestamp(at)
      eventType: "'page viewed"
      content:
        contentTitle: title`),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toBe(
      `${file}:8:7: mapping "things", eventType: does not compile: String literal must be terminated by a matching quote (JSONata S0101 at character 12)\n` +
        `      expression: 'page viewed`,
    );
    expect(error.message).toContain(`MAPPINGS_FILE ${file} has a problem:`);
    expect(error.message).toContain('mapping "things", eventType: does not compile');
  });

  it('names a field the Avro writer schema does not have, with the closest one', () => {
    const { problems } = problemsOf(`version: 1
mappings:
  - name: web-page-view
    match: { records: acme.web.PageView }
    schema: page-view.avsc
    body:
      eventId: $eventId(['anonymousId', 'occuredAt'])
      timestamp: $timestamp(occurredAt)
      eventType: { const: page viewed }
      content:
        contentTitle: page.titel
        contentUrl: page.url.host`);
    expect(problems).toEqual([
      `${file}:7:7: mapping "web-page-view", eventId: field occuredAt does not exist in Avro record acme.web.PageView (page-view.avsc); did you mean occurredAt? (character 36)\n` +
        `      expression: $eventId(['anonymousId', 'occuredAt'])`,
      `${file}:11:9: mapping "web-page-view", content.contentTitle: field page.titel does not exist in Avro record acme.web.PageView (page-view.avsc); did you mean page.title? (character 10)\n` +
        '      expression: page.titel',
      `${file}:12:9: mapping "web-page-view", content.contentUrl: field page.url.host does not exist in Avro record acme.web.PageView (page-view.avsc) (page.url is a string, not a record) (character 13)\n` +
        '      expression: page.url.host',
    ]);
  });

  it('names a field a JSON Schema does not declare, following $ref', () => {
    const { problems } = problemsOf(`version: 1
mappings:
  - name: signup
    match: { records: Signup }
    schema: signup.schema.json
    body:
      eventId: signupId
      timestamp: $timestamp(createdAt)
      eventType: { const: signed up }
      content:
        contentTitle: plan
      person:
        company:
          domain: company.website`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      'mapping "signup", person.company.domain: field company.website does not exist in JSON Schema Signup (signup.schema.json) (company has name, domain, crmAccountId)',
    );
  });

  it('suggests the camelCase name protobufjs decodes a snake_case Protobuf field to', () => {
    const { problems } = problemsOf(`version: 1
mappings:
  - name: video
    match: { records: acme.media.VideoProgress }
    schema: video-progress.proto
    body:
      eventId: event_id
      timestamp: $timestamp(occurredAt.seconds)
      eventType: { const: video watched }
      content:
        contentTitle: videoTitle
        contentCustomFields: $customFields(labels)`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      'eventId: field event_id does not exist in Protobuf message acme.media.VideoProgress (video-progress.proto); did you mean eventId?',
    );
  });

  it('checks against the known fields the wiring supplies (e.g. from the registry), before the schema file', () => {
    const known = { source: 'the registry', root: fromAvro(loadSchemaFile(`${fixturesDir}page-view.avsc`)) };
    const { problems } = problemsOf(oneMapping(minimalBody), { knownFields: () => known });
    expect(problems.map((problem) => problem.split('\n')[0])).toEqual([
      `${file}:7:7: mapping "things", eventId: field id does not exist in the registry (the event has anonymousId, userId, occurredAt, sessionId, page, context, traits, tags, properties) (character 2)`,
      `${file}:8:7: mapping "things", timestamp: field at does not exist in the registry (the event has anonymousId, userId, occurredAt, sessionId, page, context, traits, tags, properties) (character 13)`,
      `${file}:11:9: mapping "things", content.contentTitle: field title does not exist in the registry (the event has anonymousId, userId, occurredAt, sessionId, page, context, traits, tags, properties) (character 5)`,
    ]);
  });

  it('does not check fields when no schema is known, nor inside lambdas and after variables', () => {
    expect(compile(oneMapping(minimalBody)).mappings).toHaveLength(1);
    const known = { source: 'the registry', root: fromAvro(loadSchemaFile(`${fixturesDir}page-view.avsc`)) };
    const set = compile(
      oneMapping(`    body:
      eventId: $eventId(['anonymousId', 'page.url'])
      timestamp: $timestamp(occurredAt)
      eventType: "$map(tags, function($t) { $t.whatever })[0]"
      content:
        contentTitle: "($p := page; $p.anything)"
        contentLabel: "tags.$uppercase($)"
      customFields: "$each(properties, function($v, $k) { {'name': $k, 'value': $v} })"
      person:
        personId: properties.anyKeyOfTheMap`),
      { knownFields: () => known },
    );
    expect(set.mappings[0]!.interpretedFields).toEqual([
      'eventType',
      'content.contentTitle',
      'content.contentLabel',
      'customFields',
    ]);
  });

  it('names a body field Gong does not have, and a required one the mapping leaves out', () => {
    const { problems } = problemsOf(
      oneMapping(`    body:
      eventId: id
      eventType: { const: x }
      content:
        contentTitel: title
      persn:
        email: email`),
    );
    expect(problems).toEqual([
      `${file}:9:9: mapping "things", content.contentTitel: is not a Gong field; did you mean contentTitle?`,
      `${file}:8:7: mapping "things", content.contentTitle: is required by Gong but the mapping does not fill it`,
      `${file}:10:7: mapping "things", persn: is not a Gong field; did you mean person?`,
      `${file}:5:5: mapping "things", timestamp: is required by Gong but the mapping does not fill it`,
    ]);
  });

  it('refuses constants Gong cannot take and values of the wrong shape', () => {
    const { problems } = problemsOf(
      oneMapping(`    body:
      eventId: id
      timestamp: $timestamp(at)
      eventType: { const: x }
      device: { const: TABLET }
      content:
        contentTitle: { text: title }
        contentLabel: { const: [a] }
        numericContentDetails: [1]
      customFields:
        - { const: 1, name: x }`),
    );
    expect(problems.map((problem) => problem.slice(file.length + 1))).toEqual([
      '9:7: mapping "things", device: must be one of MOBILE, PC, got "TABLET"',
      '11:9: mapping "things", content.contentTitle: is text: give an expression, or {const: value} for a constant',
      '13:9: mapping "things", content.numericContentDetails: is an object, not a list',
      '15:11: mapping "things", customFields[0]: "const" stands alone: {const: value}',
    ]);
  });

  it('reports YAML syntax errors and outline errors with their line', () => {
    expect(problemsOf('version: 1\nmappings:\n  - name: [unclosed\n').problems[0]).toMatch(
      new RegExp(`^${file}:\\d+:\\d+: not valid YAML or JSON: `),
    );
    expect(
      problemsOf(`version: 1
mappings:
  - name: "bad name!"
    match: {}
    body: x`).problems,
    ).toEqual([
      `${file}:3:5: mappings.0.name: must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      `${file}:4:5: mappings.0.match: must name at least one of topics, records or subjects`,
    ]);
    expect(problemsOf('version: 2\nmappings: []').problems[0]).toBe(
      `${file}:1:1: version: Invalid input: expected 1`,
    );
  });

  it('refuses duplicate names, two mappings claiming the same records, and a mapping for the canonical schema', () => {
    const { problems } = problemsOf(`version: 1
mappings:
  - { name: a, match: { topics: [t1, t2] }, body: x }
  - { name: a, match: { topics: t2 }, body: x }
  - { name: b, match: { records: [acme.X], topics: t1 }, body: x }
  - { name: c, match: { records: acme.X, topics: [t1, t3] }, body: x }
  - { name: d, match: { records: io.gongbridge.InteractionEvent }, body: x }`);
    expect(problems).toEqual([
      `${file}:4:7: mapping "a" is defined twice; names must be unique`,
      `${file}:7:25: mapping "d": io.gongbridge.InteractionEvent is the canonical schema; it needs no mapping`,
      `${file}: mappings "a" and "a" match the same records equally well; make their topics, records or subjects distinct`,
      `${file}: mappings "b" and "c" match the same records equally well; make their topics, records or subjects distinct`,
    ]);
  });

  it('names a schema file it cannot read or use', () => {
    const { problems } = problemsOf(oneMapping(minimalBody, '\n    schema: missing.avsc'));
    expect(problems[0]).toBe(
      `${file}:5:5: mapping "things": cannot read schema missing.avsc: ENOENT: no such file, open '/etc/gong-bridge/missing.avsc'`,
    );
    expect(problemsOf(oneMapping(minimalBody, '\n    schema: video-progress.proto')).problems[0]).toContain(
      'a .proto schema needs {file, message} unless match.records names exactly one message',
    );
  });

  it('names an unreadable MAPPINGS_FILE', () => {
    expect(() => loadMappings('/nonexistent/mappings.yaml')).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/^MAPPINGS_FILE: cannot read \/nonexistent\/mappings.yaml: ENOENT/),
      }),
    );
  });

  it('reads JSON files as well', () => {
    const set = compile(
      JSON.stringify({
        version: 1,
        mappings: [
          {
            name: 'j',
            match: { topics: 't' },
            body: { eventId: 'id', timestamp: 'at', eventType: 'type', content: { contentTitle: 'title' } },
          },
        ],
      }),
    );
    expect(set.mappings.map((mapping) => mapping.name)).toEqual(['j']);
  });
});

describe('selectMapping', () => {
  const set = compile(`version: 1
mappings:
  - { name: by-topic, match: { topics: [shared, solo] }, body: x }
  - { name: by-subject, match: { subjects: shared-value }, body: x }
  - { name: by-record, match: { records: acme.Thing }, body: x }
  - { name: by-topic-and-record, match: { topics: shared, records: acme.Thing }, body: x }
  - { name: by-topic-and-subject, match: { topics: solo, subjects: other-value }, body: x }`);
  const select = (topic: string, record?: string, subject?: string) =>
    set.selectMapping(topic, { record, subject })?.name;

  it('takes the most specific match: record over subject over topic, with the topic breaking ties', () => {
    expect(select('shared', 'acme.Thing')).toBe('by-topic-and-record');
    expect(select('elsewhere', 'acme.Thing')).toBe('by-record');
    expect(select('elsewhere', 'acme.Other', 'shared-value')).toBe('by-subject');
    expect(select('shared', 'acme.Other', 'shared-value')).toBe('by-subject');
    expect(select('solo', 'acme.Other', 'other-value')).toBe('by-topic-and-subject');
    expect(select('solo', 'acme.Other')).toBe('by-topic');
    expect(select('shared')).toBe('by-topic');
    expect(select('elsewhere', 'acme.Other')).toBeUndefined();
  });

  it('never maps a canonical record, even on a mapped topic', () => {
    expect(select('shared', 'io.gongbridge.InteractionEvent')).toBeUndefined();
  });
});
