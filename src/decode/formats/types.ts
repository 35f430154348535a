import type { BridgeError } from '../../errors.ts';
import type { KnownFields } from '../../mapping/known-fields.ts';
import type { RegistrySchema } from '../registry.ts';
import type { InputFormatName } from './names.ts';

/**
 * One interface for every input format (INPUT_FORMATS), so the wiring, the tools and the doctor
 * treat them alike and a new format is one file in this folder plus its line in index.ts.
 *
 * A framed format reads the Confluent wire format: the preparer (prepare.ts) reads the frame,
 * fetches the writer schema by id, checks its type against `schemaType`, and hands the schema to
 * `writer()` once per id; the writer then decodes each record's payload. A format without framing
 * decodes the whole value with `decodeValue()`.
 */

/** What a decoder hands on: the event as mappings see it (docs/mappings.md), and who wrote it. */
export interface DecodedEvent {
  readonly event: unknown;
  /** Avro record full name, Protobuf message full name, JSON Schema title; absent when unnamed. */
  readonly record?: string | undefined;
  /** A canonical io.gongbridge.InteractionEvent, read through the newest reader schema. */
  readonly canonical?: boolean;
}

/** A dead-letter verdict for the record, or what it decoded to. Never thrown. */
export type DecodeOutcome =
  { readonly ok: true; readonly decoded: DecodedEvent } | { readonly ok: false; readonly error: BridgeError };

/** A registry schema made ready to decode records, built once per schema id. */
export interface Writer {
  /** For messages: `Avro record acme.web.PageView`. */
  readonly description: string;
  /** The records it can write: one, or each message of a .proto. */
  readonly records: readonly string[];
  /** The payload after the 5-byte header. */
  decode(payload: Buffer): DecodeOutcome;
  /**
   * The record read through the canonical schema, for a writer that is not canonical and that no
   * mapping takes (Avro only: a writer the newest reader schema can resolve is still read as it
   * always was).
   */
  asCanonical?(payload: Buffer): DecodeOutcome;
  /** The fields a mapping may read from `record`'s events (default: the only record). */
  knownFields(record?: string): KnownFields | undefined;
  /**
   * One sample event given in the topic's format as JSON (Avro's JSON encoding for Avro), turned
   * into what decode() hands on for the same record: the `transform` command's input.
   */
  fromJson(text: string, record?: string): DecodeOutcome;
  /**
   * `count` events of `record` generated from the schema, as decode() would hand them on: the
   * first with every optional field filled, the second with none, the rest mixed (doctor).
   */
  samples(count: number, record?: string): unknown[];
}

export interface InputFormat {
  readonly name: InputFormatName;
  /** One line for docs and --help. */
  readonly summary: string;
  /** The registry schemaType this format reads (framed formats); absent without framing. */
  readonly schemaType?: 'AVRO' | 'JSON' | 'PROTOBUF';
  /** Schema file extensions the tools accept for it. */
  readonly schemaFileExtensions: readonly string[];
  /**
   * Framed formats: the writer for a schema of type `schemaType` (registered under `id`; without
   * one, a schema file given to a tool). Throws a BridgeError
   * SCHEMA_UNPARSEABLE (or SCHEMA_INCOMPATIBLE) when no record with this schema can decode.
   */
  writer?(schema: RegistrySchema, id?: number): Writer;
  /** Formats without framing: the whole value. */
  decodeValue?(value: Buffer): DecodeOutcome;
  /** Formats without framing: a sample event given as JSON (the `transform` command's input). */
  valueFromJson?(text: string): DecodeOutcome;
}
