import protobuf from 'protobufjs';
import { BridgeError } from '../../errors.ts';
import { fromProtobuf, type KnownFields } from '../../mapping/known-fields.ts';
import { parseProtoSchema } from '../../mapping/proto-file.ts';
import { readMessageIndexes } from '../wire.ts';
import * as sample from './sample-values.ts';
import type { DecodeOutcome, InputFormat, Writer } from './types.ts';

/**
 * Protobuf in the Confluent wire format: after the schema id, the message indexes say which
 * message of the .proto was written (wire.ts), then the message itself. The event is protobufjs'
 * decoding presented with `toObject(message, {enums: String, longs: String})`: camelCase field
 * names, enums by name, 64-bit integers as decimal text, fields left at their proto3 default
 * absent. The record name is the message's full name (`acme.media.VideoProgress`).
 *
 * Nested messages are numbered in the order protobufjs lists them. A message that declares both
 * map fields and nested messages may number differently from Confluent's serializer, which
 * counts the map entry types it generates; top-level messages, the usual case, always agree.
 */
export const protobufFormat: InputFormat = {
  name: 'protobuf',
  summary: 'Protobuf in the Confluent wire format (message indexes after the schema id)',
  schemaType: 'PROTOBUF',
  schemaFileExtensions: ['.proto'],
  writer(schema, id) {
    const references = schema.references.map((reference) => reference.schema);
    return protobufWriter(schema.schema, references, id);
  },
};

const presentation: protobuf.IConversionOptions = { enums: String, longs: String };

/** A writer for a .proto (from the registry with its references, or a file for the tools). */
export function protobufWriter(text: string, references: readonly string[] = [], id?: number): Writer {
  const label = id === undefined ? 'the writer schema' : `writer schema ${id}`;
  let root: protobuf.Root;
  let topLevel: protobuf.Type[];
  try {
    root = parseProtoSchema(text, references);
    // The file's own top-level messages in declaration order, which the first index counts;
    // types from referenced files share the root but not this numbering.
    const own = protobuf.parse(text, new protobuf.Root());
    const space = own.package === undefined ? own.root : own.root.lookup(own.package);
    const names = ((space as protobuf.Namespace | null)?.nestedArray ?? [])
      .filter((nested) => nested instanceof protobuf.Type)
      .map((nested) => nested.fullName);
    topLevel = names.map((name) => root.lookupType(name));
  } catch (cause) {
    throw new BridgeError(
      'SCHEMA_UNPARSEABLE',
      `${id === undefined ? 'the schema' : `schema id ${id}`} is not a .proto protobufjs can use: ${messageOf(cause)}`,
      { cause },
    );
  }
  if (topLevel.length === 0) {
    throw new BridgeError('SCHEMA_UNPARSEABLE', `${label} defines no message`);
  }
  const allTypes = topLevel.flatMap(withNested);
  const known = new Map<string, KnownFields>();
  const nameOf = (type: protobuf.Type) => type.fullName.replace(/^\./, '');
  const typeNamed = (record: string | undefined): protobuf.Type | undefined =>
    record === undefined ? topLevel[0] : allTypes.find((type) => nameOf(type) === record);
  const failed = (message: string, cause?: unknown): DecodeOutcome => ({
    ok: false,
    error: new BridgeError('PROTOBUF_DECODE_FAILED', message, cause === undefined ? {} : { cause }),
  });
  const presentEvent = (type: protobuf.Type, message: protobuf.Message): DecodeOutcome => ({
    ok: true,
    decoded: { event: type.toObject(message, presentation), record: nameOf(type) },
  });

  return {
    description: `Protobuf ${topLevel.length === 1 ? `message ${nameOf(topLevel[0]!)}` : `schema with ${topLevel.map(nameOf).join(', ')}`}`,
    records: allTypes.map(nameOf),
    decode(payload) {
      const indexes = readMessageIndexes(payload);
      if (!indexes.ok) return failed(`${label}: ${indexes.message}`);
      let type: protobuf.Type | undefined = topLevel[indexes.indexes[0]!];
      for (const index of indexes.indexes.slice(1)) {
        type = type === undefined ? undefined : nestedMessages(type)[index];
      }
      if (type === undefined) {
        return failed(
          `message indexes [${indexes.indexes.join(', ')}] name no message of ${label} (top-level: ${topLevel.map(nameOf).join(', ')})`,
        );
      }
      try {
        // A plain Uint8Array, not a Buffer: protobufjs' Buffer reader clamps a length that runs
        // past the end instead of refusing it, which would turn a truncated record into data.
        const bytes = payload.subarray(indexes.bytes);
        return presentEvent(type, type.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
      } catch (cause) {
        return failed(
          `the payload does not decode as ${nameOf(type)} (${label}): ${messageOf(cause)}`,
          cause,
        );
      }
    },
    knownFields(record) {
      const type = typeNamed(record);
      if (type === undefined) return undefined;
      const name = nameOf(type);
      let fields = known.get(name);
      if (fields === undefined) {
        fields = { source: `Protobuf message ${name}`, root: fromProtobuf(type) };
        known.set(name, fields);
      }
      return fields;
    },
    fromJson(text, record) {
      const type = typeNamed(record);
      if (type === undefined) return failed(`${label} has no message ${record ?? ''}`);
      try {
        const message = type.fromObject(JSON.parse(text) as Record<string, unknown>);
        // Through the binary encoding, so the event is exactly what decode() hands on.
        return presentEvent(type, type.decode(type.encode(message).finish()));
      } catch (cause) {
        return failed(`the line is not a ${nameOf(type)} in JSON: ${messageOf(cause)}`, cause);
      }
    },
    samples(count, record) {
      const type = typeNamed(record);
      if (type === undefined) return [];
      return Array.from({ length: count }, (_, index) => {
        const message = type.fromObject(sampleMessage(type, sample.sampleContext(index), 0));
        return type.toObject(type.decode(type.encode(message).finish()), presentation);
      });
    },
  };
}

function nestedMessages(type: protobuf.Type): protobuf.Type[] {
  return type.nestedArray.filter((nested): nested is protobuf.Type => nested instanceof protobuf.Type);
}

function withNested(type: protobuf.Type): protobuf.Type[] {
  return [type, ...nestedMessages(type).flatMap(withNested)];
}

const MAX_SAMPLE_DEPTH = 8;
const wideIntegers = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function sampleMessage(
  type: protobuf.Type,
  context: sample.SampleContext,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (type.fullName === '.google.protobuf.Timestamp') {
    const ms = sample.sampleTimeMs(context);
    return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
  }
  if (depth > MAX_SAMPLE_DEPTH) return out;
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field instanceof protobuf.MapField) {
      const entries: Record<string, unknown> = {};
      for (let index = 0; index < sample.itemCount(context); index++) {
        const key = field.keyType === 'string' ? `${field.name}${index + 1}` : String(index + 1);
        entries[key] = sampleField(field, context, depth);
      }
      out[field.name] = entries;
    } else if (field.repeated) {
      out[field.name] = Array.from({ length: sample.itemCount(context) }, () =>
        sampleField(field, context, depth),
      );
    } else if (sample.present(context)) {
      out[field.name] = sampleField(field, context, depth);
    }
  }
  return out;
}

function sampleField(field: protobuf.Field, context: sample.SampleContext, depth: number): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return sampleMessage(resolved, context, depth + 1);
  if (resolved instanceof protobuf.Enum) {
    // The value numbered 0 is proto3's default, which the decoding leaves out: a full sample
    // takes another so the field is present.
    const names = Object.keys(resolved.values).filter((name) => resolved.values[name] !== 0);
    return (
      (context.fill === 'full' ? names[0] : sample.pick(context, names)) ?? Object.keys(resolved.values)[0]
    );
  }
  switch (field.type) {
    case 'string':
      return sample.sampleText(field.name, context);
    case 'bytes':
      return Buffer.from(`${field.name}-${context.index}`);
    case 'bool':
      return context.fill === 'full' || (context.fill === 'mixed' && context.random() < 0.5);
    case 'double':
    case 'float':
      return Math.round(context.random() * 10_000) / 100;
    default:
      return wideIntegers.has(field.type)
        ? String(sample.sampleInteger(context, true))
        : sample.sampleInteger(context, false);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
