import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fastBuiltinNames } from '../../src/mapping/fast-path.ts';
import { bodyKeywords } from '../../src/mapping/file-schema.ts';
import { gongBody, gongFieldAt, type GongField } from '../../src/mapping/gong-fields.ts';
import { mappingHelpers } from '../../src/mapping/helpers.ts';

function allNames(field: GongField): string[] {
  if (field.kind === 'list') return allNames(field.item);
  if (field.kind !== 'object') return [];
  return [...field.fields].flatMap(([name, child]) => [name, ...allNames(child)]);
}

describe('the Gong field tree read from the zod model', () => {
  it('knows required and optional fields, lists and enums', () => {
    expect(gongFieldAt(['eventId'])).toEqual({ kind: 'text', required: true });
    expect(gongFieldAt(['sessionId'])).toEqual({ kind: 'text', required: false });
    expect(gongFieldAt(['content', 'contentTitle'])).toEqual({ kind: 'text', required: true });
    expect(gongFieldAt(['content', 'numericContentDetails', 'value'])).toEqual({
      kind: 'integer',
      required: false,
    });
    expect(gongFieldAt(['device'])).toEqual({ kind: 'enum', required: false, values: ['MOBILE', 'PC'] });
    expect(gongFieldAt(['customFields'])?.kind).toBe('list');
    expect(gongFieldAt(['customFields', 'name'])).toEqual({ kind: 'text', required: true });
    expect(gongFieldAt(['content', 'nope'])).toBeUndefined();
  });

  it('has no field named like a body keyword (const, when)', () => {
    const names = new Set(allNames(gongBody));
    for (const keyword of Object.values(bodyKeywords)) expect(names.has(keyword), keyword).toBe(false);
  });
});

describe('docs/mappings.md', () => {
  const doc = readFileSync(new URL('../../docs/mappings.md', import.meta.url), 'utf8');

  it('documents every helper', () => {
    for (const helper of mappingHelpers) expect(doc, helper.name).toContain(`\`${helper.usage}\``);
  });

  it('lists every built-in the fast path compiles', () => {
    for (const name of fastBuiltinNames) expect(doc, name).toContain(`\`$${name}\``);
  });
});
