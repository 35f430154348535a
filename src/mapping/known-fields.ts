/**
 * What fields a writer schema gives a decoded event, in one tree whatever the format, so a mapping
 * that reads a field the schema does not have is refused at start-up instead of quietly producing
 * absent values. Each decoder describes its schemas with it: Avro records (`fromAvro`), JSON
 * Schema (`fromJsonSchema`) and Protobuf messages (`fromProtobuf`, from protobufjs reflection or
 * any object of the same shape). Names are the ones the decoded event carries: protobufjs
 * decodes `video_id` as `videoId`, so that is the known name.
 */
export type KnownType =
  | { readonly kind: 'record'; readonly name?: string; readonly fields: ReadonlyMap<string, KnownType> }
  | { readonly kind: 'list'; readonly items: KnownType }
  /** Keys chosen by the data (Avro map, JSON object with additionalProperties, Protobuf map). */
  | { readonly kind: 'map'; readonly values: KnownType }
  | { readonly kind: 'union'; readonly types: readonly KnownType[] }
  | { readonly kind: 'scalar'; readonly type: string }
  /** Open content: anything may be below, nothing is checked. */
  | { readonly kind: 'any' };

export interface KnownFields {
  /** How errors name the schema, e.g. `Avro record acme.web.PageView (page-view.avsc)`. */
  readonly source: string;
  readonly root: KnownType;
}

const ANY: KnownType = { kind: 'any' };

// ---------------------------------------------------------------------------------------------
// Avro, from avsc's parsed types.

interface AvroTypeShape {
  readonly typeName: string;
  readonly name?: string | undefined;
  readonly fields?: readonly { readonly name: string; readonly type: AvroTypeShape }[];
  readonly types?: readonly AvroTypeShape[];
  readonly itemsType?: AvroTypeShape;
  readonly valuesType?: AvroTypeShape;
  readonly underlyingType?: AvroTypeShape;
}

export function fromAvro(type: unknown): KnownType {
  return avroType(type as AvroTypeShape, new Map());
}

function avroType(type: AvroTypeShape, seen: Map<AvroTypeShape, KnownType>): KnownType {
  if (type.underlyingType !== undefined) return avroType(type.underlyingType, seen);
  const kind = type.typeName;
  if (kind === 'record' || kind === 'error') {
    const done = seen.get(type);
    if (done !== undefined) return done;
    const fields = new Map<string, KnownType>();
    const record: KnownType = {
      kind: 'record',
      ...(type.name === undefined ? {} : { name: type.name }),
      fields,
    };
    // Recursive schemas (a tree of comments) refer back to the record being built.
    seen.set(type, record);
    for (const field of type.fields ?? []) fields.set(field.name, avroType(field.type, seen));
    return record;
  }
  if (kind.startsWith('union')) {
    const branches = (type.types ?? []).filter((branch) => branch.typeName !== 'null');
    if (branches.length === 1) return avroType(branches[0]!, seen);
    return { kind: 'union', types: branches.map((branch) => avroType(branch, seen)) };
  }
  if (kind === 'array') return { kind: 'list', items: avroType(type.itemsType!, seen) };
  if (kind === 'map') return { kind: 'map', values: avroType(type.valuesType!, seen) };
  return { kind: 'scalar', type: type.name ?? kind };
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft 7 to 2020-12), local references only.

type JsonSchema = boolean | { readonly [key: string]: unknown };

export function fromJsonSchema(schema: unknown): KnownType {
  return jsonType(schema as JsonSchema, schema as JsonSchema, new Set());
}

function jsonType(schema: JsonSchema, document: JsonSchema, resolving: Set<string>): KnownType {
  if (typeof schema !== 'object' || schema === null) return ANY;
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    // A remote or recursive reference is open content: it cannot be followed offline here.
    if (!ref.startsWith('#/') || resolving.has(ref)) return ANY;
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (node, part) =>
          typeof node === 'object' && node !== null
            ? (node as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')]
            : undefined,
        document,
      );
    if (target === undefined) return ANY;
    const next = new Set(resolving).add(ref);
    return jsonType(target as JsonSchema, document, next);
  }
  const alternatives = [schema.oneOf, schema.anyOf, schema.allOf]
    .filter(Array.isArray)
    .flat() as JsonSchema[];
  if (alternatives.length > 0) {
    const own = { ...schema, oneOf: undefined, anyOf: undefined, allOf: undefined };
    const types = [...alternatives, ...(hasShape(own) ? [own] : [])].map((branch) =>
      jsonType(branch, document, resolving),
    );
    return types.length === 1 ? types[0]! : { kind: 'union', types };
  }
  const declared = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type];
  const types = declared.filter((type) => type !== 'null');
  const properties = schema.properties;
  if (typeof properties === 'object' && properties !== null) {
    const fields = new Map<string, KnownType>();
    for (const [name, child] of Object.entries(properties))
      fields.set(name, jsonType(child as JsonSchema, document, resolving));
    const title = typeof schema.title === 'string' ? { name: schema.title } : {};
    return { kind: 'record', ...title, fields };
  }
  if (types.includes('object') && typeof schema.additionalProperties === 'object') {
    return { kind: 'map', values: jsonType(schema.additionalProperties as JsonSchema, document, resolving) };
  }
  if (types.includes('array') || schema.items !== undefined) {
    const items = schema.items;
    return {
      kind: 'list',
      items:
        items === undefined || Array.isArray(items)
          ? ANY
          : jsonType(items as JsonSchema, document, resolving),
    };
  }
  if (types.length === 1 && typeof types[0] === 'string' && types[0] !== 'object') {
    return {
      kind: 'scalar',
      type: typeof schema.format === 'string' ? `${types[0]} (${schema.format})` : types[0],
    };
  }
  return ANY;
}

function hasShape(schema: Record<string, unknown>): boolean {
  return (
    schema.properties !== undefined || schema.items !== undefined || schema.additionalProperties !== undefined
  );
}

// ---------------------------------------------------------------------------------------------
// Protobuf, from protobufjs reflection (Type/Field) or a plain tree of the same shape.

export interface ProtobufMessageShape {
  readonly fullName?: string;
  readonly name?: string;
  readonly fieldsArray: readonly ProtobufFieldShape[];
}

export interface ProtobufFieldShape {
  readonly name: string;
  /** Scalar type name (`string`, `int64`, ...) or the message/enum type name. */
  readonly type: string;
  readonly repeated?: boolean;
  readonly map?: boolean;
  /** For a message or enum field: the resolved type; a message has fieldsArray. */
  readonly resolvedType?: ProtobufMessageShape | { readonly values: object } | null;
  /** protobufjs resolves lazily; called before resolvedType is read when present. */
  resolve?(): unknown;
}

export function fromProtobuf(message: ProtobufMessageShape): KnownType {
  return protobufMessage(message, new Map());
}

function protobufMessage(
  message: ProtobufMessageShape,
  seen: Map<ProtobufMessageShape, KnownType>,
): KnownType {
  const done = seen.get(message);
  if (done !== undefined) return done;
  const fields = new Map<string, KnownType>();
  const name = (message.fullName ?? message.name ?? '').replace(/^\./, '');
  const record: KnownType = { kind: 'record', ...(name === '' ? {} : { name }), fields };
  seen.set(message, record);
  for (const field of message.fieldsArray) {
    field.resolve?.();
    const resolved = field.resolvedType;
    let value: KnownType =
      resolved !== undefined && resolved !== null && 'fieldsArray' in resolved
        ? protobufMessage(resolved, seen)
        : { kind: 'scalar', type: field.type };
    if (field.map === true) value = { kind: 'map', values: value };
    else if (field.repeated === true) value = { kind: 'list', items: value };
    fields.set(field.name, value);
  }
  return record;
}

// ---------------------------------------------------------------------------------------------
// Lookups.

/** The type of `name` under `type`, undefined when the schema rules it out. */
export function childOf(type: KnownType, name: string): KnownType | undefined {
  switch (type.kind) {
    case 'record':
      return type.fields.get(name);
    case 'list':
      // JSONata maps a path over each item of a list.
      return childOf(type.items, name);
    case 'map':
      return type.values;
    case 'union': {
      const found = type.types.map((branch) => childOf(branch, name)).filter((child) => child !== undefined);
      if (found.length === 0) return undefined;
      return found.length === 1 ? found[0] : { kind: 'union', types: found };
    }
    case 'any':
      return ANY;
    case 'scalar':
      return undefined;
  }
}

/** The element type when `type` is a list (or may be), for the context inside `list.{...}`. */
export function itemsOf(type: KnownType): KnownType {
  if (type.kind === 'list') return type.items;
  if (type.kind === 'union') return { kind: 'union', types: type.types.map(itemsOf) };
  return type;
}

/** Field names available under `type`, for "did you mean" and listing. */
export function fieldNamesOf(type: KnownType): string[] {
  switch (type.kind) {
    case 'record':
      return [...type.fields.keys()];
    case 'list':
      return fieldNamesOf(type.items);
    case 'union':
      return [...new Set(type.types.flatMap(fieldNamesOf))];
    default:
      return [];
  }
}

export function describeKnownType(type: KnownType): string {
  switch (type.kind) {
    case 'record':
      return type.name === undefined ? 'a record' : `record ${type.name}`;
    case 'list':
      return `a list of ${describeKnownType(type.items)}`;
    case 'map':
      return 'a map';
    case 'union':
      return type.types.map(describeKnownType).join(' or ');
    case 'scalar':
      return type.type;
    case 'any':
      return 'anything';
  }
}
