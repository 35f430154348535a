import avro from 'avsc';
import { BridgeError } from '../../errors.ts';
import { canonicalRecordName } from '../../mapping/load.ts';
import { fromAvro, type KnownFields } from '../../mapping/known-fields.ts';
import { decodeAvroJson } from '../../schemas/avro-json.ts';
import { newestSchema } from '../../schemas/registry-files.ts';
import type { RegistrySchema } from '../registry.ts';
import * as sample from './sample-values.ts';
import type { DecodeOutcome, InputFormat, Writer } from './types.ts';

/**
 * Avro in the Confluent wire format, with any writer schema. The canonical record
 * (io.gongbridge.InteractionEvent) is read through the newest schema in schemas/, as it always
 * was, and goes to the built-in transform; any other record is decoded with its own writer schema
 * and handed to its mapping. A writer with another name that no mapping takes is still tried
 * against the canonical schema (asCanonical), so nothing that decoded before stops decoding.
 */
export const avroFormat: InputFormat = {
  name: 'avro',
  summary: 'Avro in the Confluent wire format (schema id from the registry), any writer schema',
  schemaType: 'AVRO',
  schemaFileExtensions: ['.avsc'],
  writer: (schema, id) => avroWriter(parseAvro(schema, id), id),
};

function parseAvro(schema: RegistrySchema, id: number | undefined): avro.Type {
  try {
    // Named types from references are registered first, so the schema can use them by name.
    const registry: Record<string, avro.Type> = {};
    for (const reference of schema.references) {
      avro.Type.forSchema(JSON.parse(reference.schema) as avro.Schema, { registry });
    }
    return avro.Type.forSchema(JSON.parse(schema.schema) as avro.Schema, { registry });
  } catch (cause) {
    throw new BridgeError(
      'SCHEMA_UNPARSEABLE',
      `${id === undefined ? 'the schema' : `schema id ${id}`} is not a valid Avro schema: ${messageOf(cause)}`,
      { cause },
    );
  }
}

/** A writer for an Avro type (from the registry, or an .avsc file for the tools). */
export function avroWriter(type: avro.Type, id?: number): Writer {
  const reader = newestSchema().type;
  const name = type.name ?? type.typeName;
  const canonical = name === canonicalRecordName;
  const label = id === undefined ? 'the writer schema' : `writer schema ${id}`;
  let resolver: avro.Resolver | BridgeError | undefined;
  const toCanonical = (): avro.Resolver | BridgeError => {
    if (resolver === undefined) {
      try {
        resolver = reader.createResolver(type);
      } catch (cause) {
        resolver = new BridgeError(
          'SCHEMA_INCOMPATIBLE',
          `${label} cannot be read through the newest reader schema: ${messageOf(cause)}`,
          { cause },
        );
      }
    }
    return resolver;
  };
  const undecodable = (cause: unknown): DecodeOutcome => ({
    ok: false,
    error: new BridgeError(
      'AVRO_DECODE_FAILED',
      `the payload does not decode with ${label}: ${messageOf(cause)}`,
      { cause },
    ),
  });
  const readCanonical = (payload: Buffer): DecodeOutcome => {
    const found = toCanonical();
    if (found instanceof BridgeError) return { ok: false, error: found };
    try {
      return {
        ok: true,
        decoded: { event: reader.fromBuffer(payload, found), record: name, canonical: true },
      };
    } catch (cause) {
      return undecodable(cause);
    }
  };
  // A canonical writer the reader cannot resolve holds no record that decodes; say so at once.
  if (canonical) {
    const found = toCanonical();
    if (found instanceof BridgeError) throw found;
  }
  const known: KnownFields = { source: `Avro record ${name}`, root: fromAvro(type) };

  const decode = (payload: Buffer): DecodeOutcome => {
    if (canonical) return readCanonical(payload);
    try {
      return { ok: true, decoded: { event: type.fromBuffer(payload), record: name } };
    } catch (cause) {
      return undecodable(cause);
    }
  };

  return {
    description: `Avro record ${name}`,
    records: [name],
    decode,
    asCanonical: readCanonical,
    knownFields: () => known,
    fromJson(text) {
      const parsed = decodeAvroJson(type, text);
      if (!parsed.ok) {
        return {
          ok: false,
          error: new BridgeError('AVRO_DECODE_FAILED', parsed.errors.join('; '), {
            context: { details: parsed.errors },
          }),
        };
      }
      // Through the binary encoding, so the event is exactly what decode() hands on.
      return decode(type.toBuffer(parsed.value));
    },
    samples(count) {
      const out: unknown[] = [];
      for (let index = 0; index < count; index++) {
        const value = sampleAvro(type, '', sample.sampleContext(index));
        const decoded = decode(type.toBuffer(value));
        if (decoded.ok) out.push(decoded.decoded.event);
      }
      return out;
    },
  };
}

interface AvroTypeShape {
  readonly typeName: string;
  readonly name?: string | undefined;
  readonly branchName?: string | undefined;
  readonly fields?: readonly { readonly name: string; readonly type: AvroTypeShape }[];
  readonly types?: readonly AvroTypeShape[];
  readonly itemsType?: AvroTypeShape;
  readonly valuesType?: AvroTypeShape;
  readonly symbols?: readonly string[];
  readonly size?: number;
  readonly underlyingType?: AvroTypeShape;
}

/** How deep a recursive schema is followed before optional parts stop being filled. */
const MAX_SAMPLE_DEPTH = 8;

function sampleAvro(typeIn: unknown, name: string, context: sample.SampleContext, depth = 0): unknown {
  const type = typeIn as AvroTypeShape;
  if (type.underlyingType !== undefined) return sampleAvro(type.underlyingType, name, context, depth);
  const deep = depth > MAX_SAMPLE_DEPTH;
  switch (type.typeName) {
    case 'record':
    case 'error': {
      const out: Record<string, unknown> = {};
      for (const field of type.fields ?? [])
        out[field.name] = sampleAvro(field.type, field.name, context, depth + 1);
      return out;
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = type.types ?? [];
      const nonNull = branches.filter((branch) => branch.typeName !== 'null');
      const nullable = nonNull.length < branches.length;
      if (nonNull.length === 0 || (nullable && (deep || !sample.present(context)))) return null;
      const branch = context.fill === 'full' ? nonNull[0]! : sample.pick(context, nonNull)!;
      const value = sampleAvro(branch, name, context, depth + 1);
      return type.typeName === 'union:wrapped' ? { [branch.branchName ?? branch.typeName]: value } : value;
    }
    case 'array': {
      const count = deep ? 0 : sample.itemCount(context);
      return Array.from({ length: count }, () => sampleAvro(type.itemsType, name, context, depth + 1));
    }
    case 'map': {
      const count = deep ? 0 : sample.itemCount(context);
      const out: Record<string, unknown> = {};
      for (let index = 0; index < count; index++)
        out[`${name || 'key'}${index + 1}`] = sampleAvro(type.valuesType, name, context, depth + 1);
      return out;
    }
    case 'enum':
      return context.fill === 'full' ? type.symbols?.[0] : sample.pick(context, type.symbols ?? []);
    case 'fixed':
      return Buffer.alloc(type.size ?? 0, context.index);
    case 'bytes':
      return Buffer.from(`${name}-${context.index}`);
    case 'string':
      return sample.sampleText(name, context);
    case 'int':
      return sample.sampleInteger(context, false);
    case 'long':
      return sample.sampleInteger(context, true);
    case 'float':
    case 'double':
      return Math.round(context.random() * 10_000) / 100;
    case 'boolean':
      return context.fill === 'full' || (context.fill === 'mixed' && context.random() < 0.5);
    default:
      return null;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
