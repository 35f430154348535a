import { BridgeError } from '../../errors.ts';
import { fromJsonSchema, type KnownFields } from '../../mapping/known-fields.ts';
import { describeValue, MAGIC_BYTE } from '../wire.ts';
import * as sample from './sample-values.ts';
import type { DecodeOutcome, InputFormat, Writer } from './types.ts';

/**
 * JSON, in two formats:
 *  - `json-schema`: the Confluent wire format with a JSON Schema in the registry (what Confluent's
 *    KafkaJsonSchemaSerializer writes). The record name is the schema's `title`. The payload is not
 *    validated against the schema: the producer's serializer did that, and a mapping reads what
 *    is there.
 *  - `json`: schemaless JSON values (Kafka Connect's JsonConverter without schemas, most
 *    hand-written producers). No registry, no record name: mappings take them by topic.
 * Either way the event is `JSON.parse` of the bytes, and it must be an object.
 */
export const jsonSchemaFormat: InputFormat = {
  name: 'json-schema',
  summary: 'JSON in the Confluent wire format, with a JSON Schema in the registry',
  schemaType: 'JSON',
  schemaFileExtensions: ['.json'],
  writer: (schema, id) =>
    jsonSchemaWriter(parseJsonSchema(schema.schema, id === undefined ? 'the schema' : `schema id ${id}`), id),
};

export const jsonFormat: InputFormat = {
  name: 'json',
  summary: 'schemaless JSON values (no framing, no registry)',
  schemaFileExtensions: ['.json'],
  decodeValue(value) {
    if (value[0] === MAGIC_BYTE) {
      return failed(
        `the value is ${describeValue(value)}, not JSON text: this topic is read as schemaless json (INPUT_FORMATS); a producer using the registry needs json-schema, avro or protobuf here`,
      );
    }
    return parseEvent(value, 'the value');
  },
  valueFromJson: (text) => parseEvent(Buffer.from(text), 'the line'),
};

export function parseJsonSchema(text: string, what: string): Record<string, unknown> {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (cause) {
    throw new BridgeError('SCHEMA_UNPARSEABLE', `${what} is not valid JSON: ${messageOf(cause)}`, { cause });
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    // `true` is a valid schema (anything goes), but names nothing a mapping could check.
    if (typeof schema === 'boolean') return {};
    throw new BridgeError('SCHEMA_UNPARSEABLE', `${what} is not a JSON Schema (an object or a boolean)`);
  }
  return schema as Record<string, unknown>;
}

/** A writer for a JSON Schema (from the registry, or a .json file for the tools). */
export function jsonSchemaWriter(schema: Record<string, unknown>, id?: number): Writer {
  const title = typeof schema.title === 'string' && schema.title !== '' ? schema.title : undefined;
  const known: KnownFields = {
    source: `JSON Schema${title === undefined ? '' : ` ${title}`}`,
    root: fromJsonSchema(schema),
  };
  const label = id === undefined ? 'the payload' : `the payload (schema id ${id})`;
  const decode = (payload: Buffer): DecodeOutcome => {
    const parsed = parseEvent(payload, label);
    return parsed.ok ? { ok: true, decoded: { ...parsed.decoded, record: title } } : parsed;
  };
  return {
    description: known.source,
    records: title === undefined ? [] : [title],
    decode,
    knownFields: () => known,
    fromJson: (text) => decode(Buffer.from(text)),
    samples(count) {
      return Array.from({ length: count }, (_, index) =>
        sampleJson(schema, schema, '', sample.sampleContext(index), 0),
      );
    },
  };
}

function parseEvent(bytes: Buffer, what: string): DecodeOutcome {
  let event: unknown;
  try {
    event = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    return failed(`${what} is not JSON (${describeValue(bytes)}): ${messageOf(cause)}`, cause);
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return failed(
      `${what} is JSON ${event === null ? 'null' : Array.isArray(event) ? 'array' : typeof event}, not an object`,
    );
  }
  return { ok: true, decoded: { event } };
}

function failed(message: string, cause?: unknown): DecodeOutcome {
  return {
    ok: false,
    error: new BridgeError('JSON_DECODE_FAILED', message, cause === undefined ? {} : { cause }),
  };
}

const MAX_SAMPLE_DEPTH = 8;

/** A JSON value the schema describes (local $refs followed, the first alternative of a oneOf). */
function sampleJson(
  node: unknown,
  document: Record<string, unknown>,
  name: string,
  context: sample.SampleContext,
  depth: number,
): unknown {
  if (typeof node !== 'object' || node === null || depth > MAX_SAMPLE_DEPTH) return null;
  const schema = node as Record<string, unknown>;
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(schema.$ref, document);
    return target === undefined
      ? sample.sampleText(name, context)
      : sampleJson(target, document, name, context, depth + 1);
  }
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum))
    return context.fill === 'full' ? schema.enum[0] : sample.pick(context, schema.enum);
  for (const key of ['oneOf', 'anyOf'] as const) {
    const alternatives = schema[key];
    if (Array.isArray(alternatives) && alternatives.length > 0) {
      const usable = alternatives.filter((branch) => (branch as { type?: unknown }).type !== 'null');
      const branch = context.fill === 'full' ? usable[0] : sample.pick(context, usable);
      return branch === undefined ? null : sampleJson(branch, document, name, context, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf)) {
    const merged: Record<string, unknown> = {};
    for (const part of schema.allOf) {
      const value = sampleJson(part, document, name, context, depth + 1);
      if (typeof value === 'object' && value !== null) Object.assign(merged, value);
    }
    return merged;
  }
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter(
    (type): type is string => typeof type === 'string',
  );
  const type =
    types.find((candidate) => candidate !== 'null') ??
    (schema.properties !== undefined ? 'object' : schema.items !== undefined ? 'array' : 'string');
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
      const properties = (schema.properties ?? {}) as Record<string, unknown>;
      for (const [key, child] of Object.entries(properties)) {
        if (required.has(key) || sample.present(context))
          out[key] = sampleJson(child, document, key, context, depth + 1);
      }
      if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
        for (let index = 0; index < sample.itemCount(context); index++)
          out[`${name || 'key'}${index + 1}`] = sampleJson(
            schema.additionalProperties,
            document,
            name,
            context,
            depth + 1,
          );
      }
      return out;
    }
    case 'array': {
      const minimum = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const count = Math.max(minimum, sample.itemCount(context));
      return Array.from({ length: count }, () =>
        sampleJson(schema.items, document, name, context, depth + 1),
      );
    }
    case 'integer':
      return sample.sampleInteger(context, false);
    case 'number':
      return Math.round(context.random() * 10_000) / 100;
    case 'boolean':
      return context.fill === 'full' || (context.fill === 'mixed' && context.random() < 0.5);
    default:
      return sample.sampleText(name, context, typeof schema.format === 'string' ? schema.format : undefined);
  }
}

function resolveRef(ref: string, document: Record<string, unknown>): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = document;
  for (const part of ref
    .slice(1)
    .split('/')
    .filter((segment) => segment !== '')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return node;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
