import { extname } from 'node:path';
import { BridgeError } from '../errors.ts';
import type { GongBodyValidator } from '../gong/validate.ts';
import type { MappingSet } from '../mapping/index.ts';
import type { InteractionEvent } from '../transform/interaction-event.ts';
import { inputFormats, type InputFormat, type InputFormatName, type Writer } from './formats/index.ts';
import { canonicalBody, deadLetterOf, mappedBody, noMapping, type PreparedRecord } from './prepare.ts';
import type { RegistrySchema } from './registry.ts';

/**
 * What `run` would make of sample events, without Kafka: the `transform --mapping` command. Each
 * line is one event in the topic's format as JSON (Avro's JSON encoding for Avro), read by the
 * same writer the decoder would use, then mapped (or transformed, for canonical events) and
 * validated exactly as the preparer does.
 */
export interface OfflineInput {
  /** The event on one line: its body, or why it would be dead-lettered. */
  read(line: string): Promise<PreparedRecord>;
}

export interface OfflineInputOptions {
  readonly topic: string;
  readonly format: InputFormat;
  /** The writer schema the lines are written with; required for Avro and Protobuf. */
  readonly writer?: Writer | undefined;
  /** The subject the writer schema is registered under, when it came from the registry. */
  readonly subject?: string | undefined;
  readonly mappings: MappingSet;
  readonly validate: GongBodyValidator;
}

export function offlineInput(options: OfflineInputOptions): OfflineInput {
  const { topic, format, writer, subject, mappings, validate } = options;
  if (writer === undefined && format.valueFromJson === undefined && format.name !== 'json-schema') {
    throw new BridgeError(
      'USAGE',
      `topic ${topic} is read as ${format.name}: give the writer schema (--schema PATH or --registry), or a schema: in the mapping`,
    );
  }
  const record = linesRecord(writer, mappings, topic);
  const parse = (line: string) =>
    writer === undefined ? inputFormats.json.valueFromJson!(line) : writer.fromJson(line, record);
  return {
    async read(line) {
      const outcome = parse(line);
      if (!outcome.ok) return deadLetterOf(outcome.error);
      const decoded = outcome.decoded;
      if (decoded.canonical === true) return canonicalBody(decoded.event as InteractionEvent, validate);
      const mapping = mappings.selectMapping(topic, { record: decoded.record, subject });
      if (mapping === undefined) return deadLetterOf(noMapping(topic, decoded, subject, mappings));
      return mappedBody(mapping, decoded.event, validate);
    },
  };
}

/** The record the lines are, when the schema has several: the one a mapping of the topic names. */
function linesRecord(writer: Writer | undefined, mappings: MappingSet, topic: string): string | undefined {
  if (writer === undefined || writer.records.length <= 1) return writer?.records[0];
  const named = mappings.mappings
    .filter((mapping) => mapping.match.topics === undefined || mapping.match.topics.includes(topic))
    .flatMap((mapping) => mapping.match.records ?? []);
  return writer.records.find((name) => named.includes(name)) ?? writer.records[0];
}

/** The format a schema file is for, by its extension: .avsc, .json (JSON Schema), .proto. */
export function formatOfSchemaFile(path: string): InputFormatName | undefined {
  const extension = extname(path).toLowerCase();
  const found = Object.values(inputFormats).find(
    (format) => format.writer !== undefined && format.schemaFileExtensions.includes(extension),
  );
  return found?.name;
}

/** A writer from a schema file's text, as if the registry had handed it over. */
export function writerFromFile(format: InputFormat, text: string, path: string): Writer {
  if (format.writer === undefined || format.schemaType === undefined) {
    throw new BridgeError('USAGE', `a topic read as ${format.name} has no writer schema; leave out ${path}`);
  }
  const schema: RegistrySchema = { schemaType: format.schemaType, schema: text, references: [] };
  try {
    return format.writer(schema);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new BridgeError('INPUT_UNREADABLE', `cannot use schema ${path}: ${message}`, { cause });
  }
}
