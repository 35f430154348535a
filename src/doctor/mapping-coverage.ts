import { formatPath } from '../gong/validate.ts';
import { buildBody, type CompiledMapping } from '../mapping/index.ts';
import type { BodyPlan } from '../mapping/compile.ts';
import { gongBody, type GongField } from '../mapping/gong-fields.ts';

/**
 * What a mapping makes of events it has never seen: run over records generated from its writer
 * schema (every optional field filled, none filled, and mixes), which Gong fields does it never
 * fill, which required ones does it leave empty, and what makes it throw. Pure: doctor brings the
 * schema and the events.
 */
export interface MappingCoverage {
  readonly mapping: string;
  readonly samples: number;
  /** Body fields the mapping sets that came out absent in every sample. */
  readonly neverFilled: readonly string[];
  /** Fields Gong requires that came out absent or blank, with how many samples. */
  readonly mayBeEmpty: readonly FieldCount[];
  /** MAPPING_FAILED per field and message, with how many samples. */
  readonly failures: readonly FieldCount[];
}

export interface FieldCount {
  /** A body field (`content.contentTitle`), or `<field>: <message>` for a failure. */
  readonly field: string;
  readonly samples: number;
}

export async function mappingCoverage(
  mapping: CompiledMapping,
  events: readonly unknown[],
): Promise<MappingCoverage> {
  const planned = plannedFields(mapping.plan.body, []);
  const filled = new Set<string>();
  const empty = new Map<string, number>();
  const failures = new Map<string, number>();
  for (const event of events) {
    const built = await buildBody(mapping, event);
    if (!built.ok) {
      for (const detail of built.error.context.details ?? [built.error.message])
        failures.set(detail, (failures.get(detail) ?? 0) + 1);
      continue;
    }
    for (const field of planned) if (isFilled(valueAt(built.body, field))) filled.add(formatPath(field));
    for (const field of emptyRequired(built.body, gongBody, []))
      empty.set(field, (empty.get(field) ?? 0) + 1);
  }
  const counted = (counts: Map<string, number>) =>
    [...counts].map(([field, samples]) => ({ field, samples })).sort((a, b) => b.samples - a.samples);
  return {
    mapping: mapping.name,
    samples: events.length,
    // Only meaningful when some sample built a body at all.
    neverFilled:
      failures.size > 0 && filled.size === 0
        ? []
        : planned.map((field) => formatPath(field)).filter((field) => !filled.has(field)),
    mayBeEmpty: counted(empty),
    failures: counted(failures),
  };
}

/** The body fields a mapping's tree sets: its constants, expressions and lists (not their items). */
function plannedFields(plan: BodyPlan, path: readonly string[]): string[][] {
  switch (plan.kind) {
    case 'object':
      return plan.entries.flatMap(([key, child]) => plannedFields(child, [...path, key]));
    case 'constant':
    case 'expression':
    case 'list':
      // A whole-body expression (path []) sets fields the tree cannot name.
      return path.length === 0 ? [] : [[...path]];
  }
}

function valueAt(body: unknown, path: readonly string[]): unknown {
  let value = body;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function isFilled(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.trim() !== '';
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** Required fields absent or blank inside every object the body has, list items included. */
function emptyRequired(value: unknown, field: GongField, path: readonly (string | number)[]): string[] {
  if (field.kind === 'list') {
    if (!Array.isArray(value)) return [];
    return value.flatMap((item) => emptyRequired(item, field.item, [...path, 0]));
  }
  if (field.kind !== 'object' || typeof value !== 'object' || value === null || Array.isArray(value))
    return [];
  const record = value as Record<string, unknown>;
  const found: string[] = [];
  for (const [name, child] of field.fields) {
    const childPath = [...path, name];
    if (child.required && !isFilled(record[name])) found.push(formatPath(childPath).replaceAll('[0]', '[]'));
    else found.push(...emptyRequired(record[name], child, childPath));
  }
  return found;
}
