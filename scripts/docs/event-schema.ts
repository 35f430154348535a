import type { SchemaVersion } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';
import { transformEvent, type InteractionEvent } from '../../src/transform/transform.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { generatedBanner, mdCell, type Rendered } from './markdown.ts';

/** One field of the event schema, flattened: `content.contentCustomFields[].name`. */
export interface SchemaField {
  readonly path: string;
  readonly type: string;
  readonly doc: string | undefined;
  /** JSON of the Avro default, or undefined when the field has none (producers must set it). */
  readonly defaultValue: string | undefined;
  /** Where the value sits in the event, for the mapping probe: scalars and enums only. */
  readonly leaf: LeafKind | undefined;
}

export type LeafKind =
  | { readonly kind: 'string' }
  | { readonly kind: 'int' | 'long' | 'double' | 'float' | 'timestamp' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'enum'; readonly symbols: readonly string[] }
  | { readonly kind: 'string-array' };

type AvroSchema = string | AvroSchema[] | { [key: string]: unknown };

/** Flattens a record schema, depth first, resolving references to named types declared earlier. */
export function flattenSchema(schema: unknown): SchemaField[] {
  const named = new Map<string, Record<string, unknown>>();
  const out: SchemaField[] = [];
  const visit = (record: Record<string, unknown>, prefix: string, seen: readonly string[]) => {
    register(record, named);
    for (const field of (record.fields as Record<string, unknown>[] | undefined) ?? []) {
      const name = String(field.name);
      const path = `${prefix}${name}`;
      const type = resolve(field.type as AvroSchema, named);
      out.push({
        path,
        type: describeAvroType(field.type as AvroSchema),
        doc: typeof field.doc === 'string' && field.doc.trim() !== '' ? field.doc : undefined,
        defaultValue: 'default' in field ? JSON.stringify(field.default) : undefined,
        leaf: leafKind(type, named),
      });
      const inner = nonNull(type, named);
      if (isRecord(inner) && !seen.includes(String(inner.name))) {
        visit(inner, `${path}.`, [...seen, String(inner.name)]);
      } else if (isObject(inner) && inner.type === 'array') {
        const items = resolve(inner.items as AvroSchema, named);
        if (isRecord(items)) visit(items, `${path}[].`, [...seen, String(items.name)]);
      }
    }
  };
  if (!isRecord(schema as AvroSchema)) throw new Error('the event schema must be a record');
  visit(schema as Record<string, unknown>, '', [String((schema as Record<string, unknown>).name)]);
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRecord(value: AvroSchema): value is Record<string, unknown> {
  return isObject(value) && value.type === 'record';
}

function register(type: Record<string, unknown>, named: Map<string, Record<string, unknown>>): void {
  if (typeof type.name !== 'string') return;
  named.set(type.name, type);
  if (typeof type.namespace === 'string') named.set(`${type.namespace}.${type.name}`, type);
}

function resolve(type: AvroSchema, named: Map<string, Record<string, unknown>>): AvroSchema {
  if (typeof type === 'string') return named.get(type) ?? type;
  if (Array.isArray(type)) return type.map((member) => resolve(member, named));
  if ((type.type === 'record' || type.type === 'enum') && typeof type.name === 'string')
    register(type, named);
  return type;
}

function nonNull(type: AvroSchema, named: Map<string, Record<string, unknown>>): AvroSchema {
  if (!Array.isArray(type)) return type;
  const members = type.filter((member) => member !== 'null');
  return members.length === 1 ? resolve(members[0]!, named) : type;
}

function leafKind(type: AvroSchema, named: Map<string, Record<string, unknown>>): LeafKind | undefined {
  const inner = nonNull(type, named);
  if (typeof inner === 'string') {
    if (inner === 'string') return { kind: 'string' };
    if (inner === 'boolean') return { kind: 'boolean' };
    if (inner === 'int' || inner === 'long' || inner === 'double' || inner === 'float')
      return { kind: inner };
    return undefined;
  }
  if (!isObject(inner)) return undefined;
  if (inner.type === 'enum') return { kind: 'enum', symbols: inner.symbols as string[] };
  if (inner.logicalType === 'timestamp-millis') return { kind: 'timestamp' };
  if (inner.type === 'array' && resolve(inner.items as AvroSchema, named) === 'string')
    return { kind: 'string-array' };
  return undefined;
}

export function describeAvroType(type: AvroSchema): string {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    const members = type.filter((member) => member !== 'null').map(describeAvroType);
    return type.includes('null') ? `${members.join(' \\| ')}, nullable` : members.join(' \\| ');
  }
  if (type.type === 'record') return `record ${String(type.name)}`;
  if (type.type === 'enum') return `enum ${String(type.name)}: ${(type.symbols as string[]).join(', ')}`;
  if (type.type === 'array') return `array of ${describeAvroType(type.items as AvroSchema)}`;
  if (typeof type.logicalType === 'string') return `${String(type.type)} (${type.logicalType})`;
  return String(type.type);
}

// ---------------------------------------------------------------------------------------------
// The mapping to Gong's body is measured, not written down: for each field, take sample events
// where it is present (or where its parent is, so it can be filled in), change only that field,
// run the real transform on both, and see which body paths changed. A field whose changes never
// reach the body is "not sent". A new field therefore appears in the reference with whatever the
// transform really does with it, and a field no sample can exercise stops the generator.
// ---------------------------------------------------------------------------------------------

export type Mapping = { readonly sentAs: readonly string[] } | { readonly notSent: true };

const SAMPLE_COUNT = 28;

export function sampleEvents(): InteractionEvent[] {
  const random = seededRandom(20_250_601);
  return Array.from({ length: SAMPLE_COUNT }, (_, seq) => makeSampleEvent(seq, random));
}

export function deriveMapping(
  fields: readonly SchemaField[],
  samples: readonly InteractionEvent[],
  transform: (event: InteractionEvent) => ReturnType<typeof transformEvent> = transformEvent,
): { mapping: Map<string, Mapping>; problems: string[] } {
  const mapping = new Map<string, Mapping>();
  const problems: string[] = [];
  const bases = samples
    .map((event) => ({ event, result: transform(event) }))
    .filter(
      (entry): entry is { event: InteractionEvent; result: { ok: true; body: never } } => entry.result.ok,
    );
  const stringPool = [...new Set(bases.flatMap((base) => collectStrings(base.event)))];

  for (const field of fields) {
    if (field.leaf === undefined) continue;
    const segments = field.path.split('.');
    let exercised = false;
    let changed: Set<string> | undefined;
    const probe = (base: Base) => {
      const slot = locate(base.event as unknown as Record<string, unknown>, segments);
      if (slot === undefined) return;
      const before = flatten(base.result.body);
      let unchanged = 0;
      for (const candidate of candidates(field.leaf!, slot.value, stringPool)) {
        const mutated = structuredClone(base.event) as unknown as Record<string, unknown>;
        const target = locate(mutated, segments);
        if (target === undefined) return;
        target.parent[target.key] = candidate;
        const result = transform(mutated as unknown as InteractionEvent);
        if (!result.ok) continue;
        exercised = true;
        const diff = diffPaths(before, flatten(result.body));
        if (diff.size > 0) {
          changed = diff;
          return;
        }
        // Several accepted values that change nothing is the answer for this base; trying the
        // whole pool of strings would only cost time.
        if (++unchanged >= maxUnchangedPerBase) return;
      }
    };
    for (const base of bases) {
      probe(base);
      if (changed !== undefined) break;
    }
    // Some fields can only vary together with a sibling (a custom field's dataType with its
    // value), so only when no sample as it is gives room are siblings varied first.
    if (changed === undefined && !exercised) {
      for (const base of siblingVariants(bases, segments, transform)) {
        probe(base);
        if (changed !== undefined) break;
      }
    }
    if (changed !== undefined) mapping.set(field.path, { sentAs: [...changed].sort() });
    else if (exercised) mapping.set(field.path, { notSent: true });
    else
      problems.push(
        `event field ${field.path}: no sample event in src/transform/sample-events.ts exercises it, so its Gong mapping cannot be measured; add it to a sample`,
      );
  }
  return { mapping, problems };
}

type Base = { event: InteractionEvent; result: { ok: true; body: never } };

const maxUnchangedPerBase = 6;

const siblingFillers = ['1', 'true', '2025-06-01', 'https://example.com/sample'];

function* siblingVariants(
  bases: readonly Base[],
  segments: readonly string[],
  transform: (event: InteractionEvent) => ReturnType<typeof transformEvent>,
): Generator<Base> {
  for (const base of bases) {
    const slot = locate(base.event as unknown as Record<string, unknown>, segments);
    if (slot === undefined) continue;
    for (const [key, value] of Object.entries(slot.parent)) {
      if (key === slot.key || typeof value !== 'string') continue;
      for (const filler of siblingFillers) {
        const event = structuredClone(base.event) as unknown as Record<string, unknown>;
        const sibling = locate(event, [...segments.slice(0, -1), key]);
        if (sibling === undefined) continue;
        sibling.parent[sibling.key] = filler;
        const result = transform(event as unknown as InteractionEvent);
        if (result.ok)
          yield { event: event as unknown as InteractionEvent, result: result as { ok: true; body: never } };
      }
    }
  }
}

interface Slot {
  readonly parent: Record<string, unknown>;
  readonly key: string;
  readonly value: unknown;
}

/** Finds the slot of a field in an event, taking the first element of arrays on the way. */
function locate(event: Record<string, unknown>, segments: readonly string[]): Slot | undefined {
  let node: unknown = event;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const array = segment.endsWith('[]');
    const key = array ? segment.slice(0, -2) : segment;
    if (!isObject(node)) return undefined;
    if (i === segments.length - 1 && !array) return { parent: node, key, value: node[key] };
    const next = node[key];
    if (array) {
      if (!Array.isArray(next) || next.length === 0) return undefined;
      node = next[0];
    } else {
      node = next;
    }
  }
  return undefined;
}

function candidates(leaf: LeafKind, current: unknown, pool: readonly string[]): unknown[] {
  switch (leaf.kind) {
    case 'string': {
      const fillers = [
        'sample',
        'https://example.com/sample',
        'sample@example.com',
        'example.com',
        '2025-06-01',
      ];
      const base =
        typeof current === 'string' && current.trim() !== '' ? [`${current}x`, `x${current}`] : fillers;
      return [...base, ...pool.filter((value) => value !== current)];
    }
    case 'string-array': {
      const items = Array.isArray(current) ? (current as string[]) : [];
      return [
        [...items.slice(1), ...items.slice(0, 1).map((item) => `${item}x`)],
        ['sample'],
        ...items.map((item) => [item]),
      ];
    }
    case 'enum':
      return leaf.symbols.filter((symbol) => symbol !== current);
    case 'boolean':
      return [current !== true];
    case 'timestamp':
    case 'long':
    case 'int':
    case 'double':
    case 'float': {
      const n = typeof current === 'number' ? current : 0;
      return [n + 1, n - 1, 0, 1, n + 0.5];
    }
  }
}

function collectStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) collectStrings(item, out);
  else if (isObject(value)) for (const item of Object.values(value)) collectStrings(item, out);
  return out;
}

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(prefix, '[]');
    value.forEach((item, index) => flatten(item, `${prefix}[${index}]`, out));
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value))
      flatten(item, prefix === '' ? key : `${prefix}.${key}`, out);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

/** Body paths whose value differs, with array indexes folded to `[]` and a leaf array named once. */
function diffPaths(before: Map<string, string>, after: Map<string, string>): Set<string> {
  const changed = new Set<string>();
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    if (before.get(key) !== after.get(key)) changed.add(key.replace(/\[\d+\]/g, '[]').replace(/\[\]$/, ''));
  }
  return changed;
}

/** Where a record-valued field lands: the common prefix of where its leaves land. */
function containerMapping(
  path: string,
  fields: readonly SchemaField[],
  mapping: Map<string, Mapping>,
): string {
  const targets = fields
    .filter((field) => field.path.startsWith(`${path}.`) || field.path.startsWith(`${path}[].`))
    .map((field) => mapping.get(field.path))
    .flatMap((entry) => (entry !== undefined && 'sentAs' in entry ? entry.sentAs : []));
  if (targets.length === 0) return 'not sent';
  const split = targets.map((target) => target.split('.'));
  const common: string[] = [];
  for (let i = 0; ; i++) {
    const segment = split[0]![i];
    if (segment === undefined || split.some((parts) => parts[i] !== segment) || i >= split[0]!.length - 1)
      break;
    common.push(segment);
  }
  return common.length === 0 ? '(several)' : `\`${common.join('.')}\``;
}

export function renderEventSchema(
  versions: readonly SchemaVersion[],
  samples: readonly InteractionEvent[],
): Rendered {
  const problems: string[] = [];
  const newest = versions[versions.length - 1];
  if (newest === undefined)
    return { content: '', problems: ['no schema versions in src/schemas/registry-files.ts'] };
  const fields = flattenSchema(newest.schema);
  const sinceVersion = new Map<string, number>();
  for (const version of versions) {
    for (const field of flattenSchema(version.schema)) {
      if (!sinceVersion.has(field.path)) sinceVersion.set(field.path, version.version);
      if (field.doc === undefined) problems.push(`schemas/${version.file}: field ${field.path} has no doc`);
    }
  }
  const derived = deriveMapping(fields, samples);
  problems.push(...derived.problems);
  const record = newest.schema as unknown as { name: string; namespace?: string; doc?: string };

  const lines = [
    generatedBanner('schemas/*.avsc, with the Gong mapping measured by running src/transform/transform.ts'),
    '# Event schema reference',
    '',
    `Record \`${record.namespace === undefined ? '' : `${record.namespace}.`}${record.name}\`, newest version v${newest.version} (\`schemas/${newest.file}\`).`,
    record.doc ?? '',
    '',
    'Producers write this record in the Confluent wire format (magic byte, 4-byte schema id, Avro',
    'binary), registered under the subject `<topic>-value`. See [producing events](../producing-events.md).',
    '',
    'The **Gong body field** column is measured, not maintained by hand: the generator changes each',
    'field in sample events, runs the real transform and records which body fields changed. Nulls',
    'and blank strings are dropped rather than sent, and `timestamp` is sent as ISO 8601 UTC.',
    '"not sent" means the transform never puts the field in the body.',
    '',
    '| Field | Type | Default | Since | Gong body field | Description |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const field of fields) {
    const entry = derived.mapping.get(field.path);
    const gong =
      field.leaf === undefined
        ? containerMapping(field.path, fields, derived.mapping)
        : entry === undefined
          ? '?'
          : 'notSent' in entry
            ? 'not sent'
            : entry.sentAs.map((target) => `\`${target}\``).join(', ');
    const defaultText = field.defaultValue === undefined ? 'required' : `\`${field.defaultValue}\``;
    lines.push(
      `| \`${field.path}\` | ${mdCell(field.type)} | ${defaultText} | v${sinceVersion.get(field.path) ?? '?'} | ${gong} | ${mdCell(field.doc ?? '')} |`,
    );
  }
  lines.push(
    '',
    '## Versions',
    '',
    ...versions.map((version) => `- v${version.version}: \`schemas/${version.file}\``),
    '',
    'How to add a version compatibly: [schemas/README.md](../../schemas/README.md).',
  );
  return { content: `${lines.join('\n')}\n`, problems };
}
