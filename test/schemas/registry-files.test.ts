import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSchemaVersions, newestSchema, schemaFiles } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { transformEvent, type InteractionEvent } from '../../src/transform/transform.ts';
import { arbitraryFromAvro } from '../transform/avro-arbitrary.ts';

const versions = loadSchemaVersions();

/** Every record, enum and field in a schema, with its path, for the documentation checks. */
function walk(
  schema: unknown,
  path: string,
  visit: (node: Record<string, unknown>, path: string) => void,
): void {
  if (Array.isArray(schema)) {
    schema.forEach((branch) => walk(branch, path, visit));
    return;
  }
  if (typeof schema !== 'object' || schema === null) return;
  const node = schema as Record<string, unknown>;
  visit(node, path);
  if (node.type === 'record') {
    for (const field of node.fields as Record<string, unknown>[]) {
      visit(field, `${path}.${String(field.name)}`);
      walk(field.type, `${path}.${String(field.name)}`, visit);
    }
  } else if (node.type === 'array') {
    walk(node.items, `${path}[]`, visit);
  }
}

describe('schema versions', () => {
  it('lists every .avsc file in order, starting at v1', () => {
    expect(versions.map((version) => version.file)).toEqual([...schemaFiles]);
    versions.forEach((version, index) => {
      expect(version.version).toBe(index + 1);
      expect(version.file).toBe(`interaction-event.v${index + 1}.avsc`);
      expect(version.type.name).toBe('io.gongbridge.InteractionEvent');
    });
    expect(newestSchema()).toBe(versions[versions.length - 1]);
  });

  it.each(versions.map((version) => [version.file, version] as const))(
    '%s documents every record, enum and field, and gives optionals a null default',
    (_file, version) => {
      const problems: string[] = [];
      walk(version.schema, '', (node, path) => {
        const isField =
          'name' in node && !('type' in node && ['record', 'enum'].includes(node.type as string));
        if ((node.type === 'record' || node.type === 'enum' || isField) && typeof node.doc !== 'string') {
          problems.push(`${path || '(root)'}: no doc`);
        }
        if (isField && Array.isArray(node.type)) {
          if (node.type[0] !== 'null' || node.default !== null)
            problems.push(`${path}: optional without null default`);
        }
        if (isField && typeof node.type === 'object' && (node.type as { type?: string }).type === 'array') {
          if (!Array.isArray(node.default)) problems.push(`${path}: array without [] default`);
        }
      });
      expect(problems).toEqual([]);
    },
  );

  const pairs = versions
    .slice(1)
    .map((newer, index) => [versions[index]!.file, newer.file, versions[index]!, newer] as const);

  it.each(pairs)('%s data is readable with %s (backward compatible)', (_older, _newer, older, newer) => {
    const resolver = newer.type.createResolver(older.type);
    fc.assert(
      fc.property(arbitraryFromAvro(older.type), (value) => {
        const read = newer.type.fromBuffer(older.type.toBuffer(value), resolver) as unknown;
        expect(newer.type.isValid(read)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('the compatibility check has teeth: a new required field without a default is refused', () => {
    const newest = newestSchema();
    const schema = structuredClone(newest.schema) as { fields: unknown[] };
    schema.fields.push({ name: 'mandatoryNewField', type: 'string', doc: 'breaks old data' });
    const broken = avro.Type.forSchema(schema as avro.Schema);
    expect(() => broken.createResolver(newest.type)).toThrow(/mandatoryNewField/);
  });

  it.each(versions.map((version) => [version.file, version] as const))(
    'events written with %s read through the newest schema and transform',
    (_file, version) => {
      const newest = newestSchema();
      const resolver = newest.type.createResolver(version.type);
      let seed = 7;
      const random = () => {
        seed = (seed * 16_807) % 2_147_483_647;
        return (seed - 1) / 2_147_483_646;
      };
      for (let seq = 0; seq < 14; seq++) {
        const sample = makeSampleEvent(seq, random) as unknown as Record<string, unknown>;
        // Older versions lack newer fields; avsc ignores extra fields when writing.
        const written = version.type.toBuffer(version.type.clone(sample, { skipMissingFields: true }));
        const read = newest.type.fromBuffer(written, resolver) as InteractionEvent;
        expect(newest.type.isValid(read)).toBe(true);
        const result = transformEvent(read);
        expect(result.ok ? [] : result.errors).toEqual([]);
      }
      fc.assert(
        fc.property(arbitraryFromAvro(version.type), (value) => {
          const read = newest.type.fromBuffer(version.type.toBuffer(value), resolver) as InteractionEvent;
          expect(() => transformEvent(read)).not.toThrow();
        }),
        { numRuns: 200 },
      );
    },
  );
});
