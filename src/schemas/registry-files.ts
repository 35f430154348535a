import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { BridgeError } from '../errors.ts';

/**
 * The canonical interaction-event schema versions shipped in `schemas/`, oldest first. A new
 * version is appended here and must read everything the previous one wrote; the schema test
 * proves that with avsc's resolver before anything reaches the registry.
 */
export const schemaFiles = ['interaction-event.v1.avsc', 'interaction-event.v2.avsc'] as const;

export interface SchemaVersion {
  /** 1-based, in the order of `schemaFiles`. */
  readonly version: number;
  readonly file: string;
  readonly path: string;
  /** The parsed JSON schema, as registered with the schema registry. */
  readonly schema: avro.Schema;
  readonly type: avro.Type;
}

// `schemas/` sits at the package root; this file is at <root>/src/schemas/ when run from source
// and at <root>/dist/schemas/ when built, so two levels up is the root in both cases.
const schemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url));

export function schemaPath(file: string): string {
  return `${schemasDir}${file}`;
}

let cache: readonly SchemaVersion[] | undefined;

export function loadSchemaVersions(): readonly SchemaVersion[] {
  cache ??= Object.freeze(
    schemaFiles.map((file, index) => {
      const path = schemaPath(file);
      const schema = JSON.parse(readFileSync(path, 'utf8')) as avro.Schema;
      return Object.freeze({ version: index + 1, file, path, schema, type: avro.Type.forSchema(schema) });
    }),
  );
  return cache;
}

export function newestSchema(): SchemaVersion {
  const versions = loadSchemaVersions();
  const newest = versions[versions.length - 1];
  if (newest === undefined) throw new BridgeError('INTERNAL', 'no schema versions listed in schemaFiles');
  return newest;
}

/** Parses an `.avsc` file given on the command line or in a test. */
export function loadSchemaFile(path: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(readFileSync(path, 'utf8')) as avro.Schema);
}
