import type avro from 'avsc';

export type AvroJsonResult = { ok: true; value: unknown } | { ok: false; errors: string[] };

/**
 * Decodes one value in Avro's JSON encoding, the form kafka-avro-console-producer accepts: unions
 * are wrapped as `{"string": "x"}` or `{"io.gongbridge.Person": {...}}`, null stays bare, and
 * fields with a default may be left out. avsc's `fromString` does the decoding; when it fails, its
 * message names no field, so the value is walked against the schema to say which path is wrong.
 */
export function decodeAvroJson(type: avro.Type, text: string): AvroJsonResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    return { ok: false, errors: [`(root): not valid JSON: ${messageOf(cause)}`] };
  }
  try {
    // fromString re-parses, which costs little next to a clear error and keeps avsc's own
    // coercion rules authoritative.
    return { ok: true, value: type.fromString(text) as unknown };
  } catch (cause) {
    const problem = findProblem(type, parsed, '');
    return { ok: false, errors: [problem ?? `(root): does not match the Avro schema: ${messageOf(cause)}`] };
  }
}

interface AvroTypeShape {
  readonly typeName: string;
  readonly name?: string | undefined;
  readonly branchName?: string | undefined;
  readonly fields?: readonly { name: string; type: AvroTypeShape; defaultValue(): unknown }[];
  readonly types?: readonly AvroTypeShape[];
  readonly itemsType?: AvroTypeShape;
  readonly valuesType?: AvroTypeShape;
  readonly symbols?: readonly string[];
  readonly underlyingType?: AvroTypeShape;
  isValid(value: unknown): boolean;
}

function findProblem(typeIn: avro.Type, value: unknown, path: string): string | undefined {
  const type = typeIn as unknown as AvroTypeShape;
  const at = path === '' ? '(root)' : path;
  if (type.underlyingType !== undefined)
    return findProblem(type.underlyingType as unknown as avro.Type, value, path);
  const kind = type.typeName;
  if (kind === 'record' || kind === 'error') {
    if (!isPlainObject(value))
      return `${at}: expected a ${type.name ?? 'record'} object, got ${kindOf(value)}`;
    for (const field of type.fields ?? []) {
      const child = path === '' ? field.name : `${path}.${field.name}`;
      const fieldValue = value[field.name];
      if (fieldValue === undefined) {
        if (field.defaultValue() === undefined) return `${child}: required`;
        continue;
      }
      const problem = findProblem(field.type as unknown as avro.Type, fieldValue, child);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (kind.startsWith('union')) {
    const branches = type.types ?? [];
    if (value === null) {
      return branches.some((branch) => branch.typeName === 'null') ? undefined : `${at}: must not be null`;
    }
    const names = branches.filter((branch) => branch.typeName !== 'null').map((branch) => branch.branchName);
    const expected = `a union value wrapped as {"<branch>": value}, branch one of ${names.join(', ')}`;
    if (!isPlainObject(value)) return `${at}: expected ${expected}, got ${kindOf(value)}`;
    const keys = Object.keys(value);
    const branch =
      keys.length === 1 ? branches.find((candidate) => candidate.branchName === keys[0]) : undefined;
    if (branch === undefined) return `${at}: expected ${expected}, got keys ${JSON.stringify(keys)}`;
    return findProblem(branch as unknown as avro.Type, value[keys[0]!], path);
  }
  if (kind === 'array') {
    if (!Array.isArray(value)) return `${at}: expected an array, got ${kindOf(value)}`;
    for (let index = 0; index < value.length; index++) {
      const problem = findProblem(type.itemsType as unknown as avro.Type, value[index], `${path}[${index}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (kind === 'map') {
    if (!isPlainObject(value)) return `${at}: expected a map object, got ${kindOf(value)}`;
    for (const [key, item] of Object.entries(value)) {
      const problem = findProblem(type.valuesType as unknown as avro.Type, item, `${path}.${key}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (kind === 'enum') {
    return typeof value === 'string' && type.symbols?.includes(value) === true
      ? undefined
      : `${at}: must be one of ${(type.symbols ?? []).join(', ')}, got ${JSON.stringify(value) ?? kindOf(value)}`;
  }
  if (kind === 'bytes' || kind === 'fixed') {
    return typeof value === 'string'
      ? undefined
      : `${at}: expected ${kind} as a string, got ${kindOf(value)}`;
  }
  return type.isValid(value) ? undefined : `${at}: expected ${kind}, got ${describe(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return `${kindOf(value)} ${String(value)}`;
  return kindOf(value);
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
