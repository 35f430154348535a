import { readFileSync } from 'node:fs';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import type { AstNode } from '../../src/mapping/fast-path.ts';
import { checkFieldReferences, closest } from '../../src/mapping/field-check.ts';
import {
  fromAvro,
  fromJsonSchema,
  fromProtobuf,
  type KnownFields,
  type KnownType,
} from '../../src/mapping/known-fields.ts';
import { parseProtoSchema } from '../../src/mapping/proto-file.ts';
import { loadSchemaFile } from '../../src/schemas/registry-files.ts';
import { fixturesDir } from './worked-examples.ts';

/** A known-fields tree as nested plain objects, to compare whole trees at a glance. */
function outline(type: KnownType): unknown {
  switch (type.kind) {
    case 'record':
      return Object.fromEntries([...type.fields].map(([name, child]) => [name, outline(child)]));
    case 'list':
      return [outline(type.items)];
    case 'map':
      return { '<map>': outline(type.values) };
    case 'union':
      return { '<union>': type.types.map(outline) };
    case 'scalar':
      return type.type;
    case 'any':
      return '<any>';
  }
}

describe('known fields from each schema format', () => {
  it('Avro: records, nullable unions unwrapped, arrays and maps', () => {
    expect(outline(fromAvro(loadSchemaFile(`${fixturesDir}page-view.avsc`)))).toEqual({
      anonymousId: 'string',
      userId: 'string',
      occurredAt: 'long',
      sessionId: 'string',
      page: { url: 'string', path: 'string', title: 'string', referrer: 'string' },
      context: { userAgent: 'string', locale: 'string', country: 'string' },
      traits: { name: 'string', email: 'string', companyDomain: 'string' },
      tags: ['string'],
      properties: { '<map>': 'string' },
    });
  });

  it('JSON Schema: properties, local $ref, nullable types, additionalProperties as a map', () => {
    const schema = JSON.parse(readFileSync(`${fixturesDir}signup.schema.json`, 'utf8')) as unknown;
    const known = outline(fromJsonSchema(schema)) as Record<string, unknown>;
    expect(known.company).toEqual({ name: 'string', domain: 'string', crmAccountId: 'string' });
    expect(known.fullName).toBe('string');
    expect(known.createdAt).toBe('string (date-time)');
    expect(outline(fromJsonSchema({ type: 'object', additionalProperties: { type: 'integer' } }))).toEqual({
      '<map>': 'integer',
    });
    expect(outline(fromJsonSchema({ $ref: 'https://elsewhere.example/s.json' }))).toBe('<any>');
  });

  it('Protobuf: camelCase names as protobufjs decodes, well-known Timestamp, maps and repeated fields', () => {
    const type = parseProtoSchema(readFileSync(`${fixturesDir}video-progress.proto`, 'utf8')).lookupType(
      'acme.media.VideoProgress',
    );
    const known = outline(fromProtobuf(type)) as Record<string, unknown>;
    expect(Object.keys(known)).toEqual([
      'eventId',
      'occurredAt',
      'viewerId',
      'accountDomain',
      'sessionId',
      'videoId',
      'videoTitle',
      'positionMs',
      'durationMs',
      'completed',
      'platform',
      'labels',
    ]);
    expect(known.occurredAt).toEqual({ seconds: 'int64', nanos: 'int32' });
    expect(known.labels).toEqual({ '<map>': 'string' });
  });

  it('Protobuf from a plain descriptor tree, as a decoder may hand it over', () => {
    const item = { name: 'Item', fieldsArray: [{ name: 'sku', type: 'string' }] };
    const order = {
      fullName: '.shop.Order',
      fieldsArray: [{ name: 'items', type: 'Item', repeated: true, resolvedType: item }],
    };
    expect(outline(fromProtobuf(order))).toEqual({ items: [{ sku: 'string' }] });
  });
});

describe('checkFieldReferences', () => {
  const known: KnownFields = {
    source: 'the schema',
    root: fromAvro(loadSchemaFile(`${fixturesDir}page-view.avsc`)),
  };
  const problems = (source: string) =>
    checkFieldReferences(jsonata(source).ast() as unknown as AstNode, known).map(
      (problem) => problem.message,
    );

  it.each([
    'page.url',
    '$$.page.url',
    '$.traits.email',
    'properties.anyKeyTheMapHas',
    'tags[0]',
    'userId ? {"id": userId, "where": context.country}',
    "$eventId(['anonymousId', 'page.path'])",
    '$map(tags, function($t) { $t.notChecked })',
    '($p := page; $p.notChecked)',
    'page.{"u": url, "p": path}',
    'page[title = "x"].url',
  ])('accepts %s', (source) => {
    expect(problems(source)).toEqual([]);
  });

  it.each([
    ['page.titel', 'field page.titel does not exist in the schema; did you mean page.title?'],
    ['userID', 'field userID does not exist in the schema; did you mean userId?'],
    [
      'page.url.host',
      'field page.url.host does not exist in the schema (page.url is a string, not a record)',
    ],
    ['page.{"u": uri}', 'field page.uri does not exist in the schema; did you mean page.url?'],
    ['page[titel = "x"]', 'field page.titel does not exist in the schema; did you mean page.title?'],
    [
      "$eventId(['anonymousId', 'page.id'])",
      'field page.id does not exist in the schema (page has url, path, title, referrer)',
    ],
    [
      'nothingLikeIt',
      'field nothingLikeIt does not exist in the schema (the event has anonymousId, userId, occurredAt, sessionId, page, context, traits, tags, properties)',
    ],
  ])('refuses %s', (source, message) => {
    expect(problems(source)).toEqual([message]);
  });

  it('suggests across naming styles and small typos only', () => {
    expect(closest('video_id', ['videoId', 'videoTitle'])).toBe('videoId');
    expect(closest('titel', ['title', 'path'])).toBe('title');
    expect(closest('xyz', ['title', 'path'])).toBeUndefined();
  });
});
