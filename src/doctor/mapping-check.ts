import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Settings } from '../config/settings.ts';
import { inputFormats, type Writer } from '../decode/formats/index.ts';
import { loadInputs, peekDefinitions, registryWriters, type Inputs } from '../decode/inputs.ts';
import { formatOfSchemaFile } from '../decode/offline.ts';
import type { RegistryLookup } from '../decode/registry.ts';
import { isBridgeError } from '../errors.ts';
import type { MappingDefinition } from '../mapping/index.ts';
import { mappingCoverage, type MappingCoverage } from './mapping-coverage.ts';

/**
 * Doctor's look at MAPPINGS_FILE: it loads as `run` loads it (formats, mappings, field names
 * checked against the registry's newest schemas), then each mapping runs over records generated
 * from its writer schema: the newest one of its subject in the registry, else its schema: file.
 */

/** Records generated per mapping: the full one, the sparse one, and mixes. */
export const generatedRecords = 40;

export type MappingCheckResult =
  | { readonly status: 'ok' | 'warn'; readonly detail: string; readonly fix?: string }
  | { readonly status: 'fail'; readonly detail: string; readonly fix: string };

export async function checkMappings(
  config: Settings,
  topics: readonly string[],
  registry: Pick<RegistryLookup, 'latest'> | undefined,
): Promise<MappingCheckResult> {
  const file = config.MAPPINGS_FILE;
  const warnings: string[] = [];
  let inputs: Inputs;
  try {
    inputs = await loadInputs({
      topics,
      formats: config.INPUT_FORMATS,
      mappingsFile: file,
      registry,
      onWarning: (message) => warnings.push(message),
    });
  } catch (error) {
    if (!isBridgeError(error)) throw error;
    const details = error.context.details;
    return {
      status: 'fail',
      detail: details === undefined ? error.message : details.join('; '),
      fix: 'correct MAPPINGS_FILE or INPUT_FORMATS (docs/mappings.md); `gong-bridge transform --mapping` tries a mapping on sample events',
    };
  }
  if (file === undefined || inputs.mappings === undefined) {
    return { status: 'ok', detail: 'MAPPINGS_FILE not set: canonical events only' };
  }
  const definitions = peekDefinitions(file);
  const writers = registry === undefined ? new Map() : await registryWriters(definitions, registry);
  const lines: string[] = [];
  const findings: string[] = [];
  for (const mapping of inputs.mappings.mappings) {
    const definition = definitions.find((candidate) => candidate.name === mapping.name);
    const fromRegistry = writers.get(mapping.name);
    const source =
      fromRegistry ?? (definition === undefined ? undefined : schemaFileWriter(file, definition));
    if (source === undefined) {
      lines.push(
        `${mapping.name}: no writer schema to generate records from (schemaless, or none registered)`,
      );
      continue;
    }
    const events = source.writer.samples(generatedRecords, source.record);
    const coverage = await mappingCoverage(mapping, events);
    const from =
      fromRegistry === undefined
        ? `its schema: file`
        : `subject ${fromRegistry.schema.subject} version ${fromRegistry.schema.version}`;
    const found = describe(coverage);
    if (found.length === 0)
      lines.push(`${mapping.name}: fills every field it maps on ${events.length} records from ${from}`);
    else findings.push(`${mapping.name} on ${events.length} records from ${from}: ${found.join('; ')}`);
  }
  const notes = warnings.length === 0 ? '' : `; ${warnings.join('; ')}`;
  if (findings.length === 0) return { status: 'ok', detail: `${lines.join('; ')}${notes}` };
  return {
    status: 'warn',
    detail: [...findings, ...lines].join('; ') + notes,
    fix: 'check those fields against the schema: an expression that reads a field the records do not carry, a condition never true, or $coalesce for an optional source of a required field (docs/mappings.md)',
  };
}

function describe(coverage: MappingCoverage): string[] {
  const found: string[] = [];
  if (coverage.neverFilled.length > 0) found.push(`never fills ${coverage.neverFilled.join(', ')}`);
  if (coverage.mayBeEmpty.length > 0)
    found.push(
      `may leave required ${coverage.mayBeEmpty.map((entry) => `${entry.field} (${entry.samples} of ${coverage.samples})`).join(', ')} empty`,
    );
  if (coverage.failures.length > 0)
    found.push(
      `fails (MAPPING_FAILED) on ${coverage.failures
        .slice(0, 3)
        .map((entry) => `${entry.samples} of ${coverage.samples}: ${entry.field}`)
        .join('; ')}`,
    );
  return found;
}

/** The writer of a mapping's schema: file, when it has one that parses. */
function schemaFileWriter(
  file: string,
  definition: MappingDefinition,
): { writer: Writer; record: string | undefined } | undefined {
  const ref = definition.schema;
  if (ref === undefined) return undefined;
  const path = resolve(dirname(file), typeof ref === 'string' ? ref : ref.file);
  const name = formatOfSchemaFile(path);
  const format = name === undefined ? undefined : inputFormats[name];
  if (format?.writer === undefined || format.schemaType === undefined) return undefined;
  try {
    const writer = format.writer({
      schemaType: format.schemaType,
      schema: readFileSync(path, 'utf8'),
      references: [],
    });
    const records = definition.match.records;
    const record =
      (typeof ref === 'object' ? ref.message : undefined) ??
      (records === undefined
        ? writer.records[0]
        : writer.records.find((candidate) => records.includes(candidate)));
    return { writer, record };
  } catch {
    // loadInputs already refused a schema: file that cannot be read.
    return undefined;
  }
}
