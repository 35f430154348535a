import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { nearestName } from '../config/nearest-name.ts';
import { BridgeError } from '../errors.ts';
import { mappingFileSchema } from '../mapping/file-schema.ts';
import {
  canonicalRecordName,
  loadMappings,
  type MappingDefinition,
  type MappingSet,
} from '../mapping/index.ts';
import type { KnownFields } from '../mapping/known-fields.ts';
import {
  defaultInputFormat,
  inputFormats,
  type InputFormat,
  type InputFormatName,
  type Writer,
} from './formats/index.ts';
import type { LatestSchema, RegistryLookup } from './registry.ts';

/**
 * What the bridge reads, settled at start-up: each input topic's format (INPUT_FORMATS) and the
 * mappings (MAPPINGS_FILE), checked together so a topic whose records could never be delivered
 * stops start-up instead of filling the dead-letter topic.
 */
export interface Inputs {
  /** Every input topic's format. */
  readonly formats: ReadonlyMap<string, InputFormat>;
  readonly mappings?: MappingSet | undefined;
}

/**
 * Each topic's format from INPUT_FORMATS entries (`topic:format`, or a bare `format` as the
 * default; unset: avro). A named topic that is not an input topic is a typo: CONFIG_INVALID.
 */
export function topicFormats(
  topics: readonly string[],
  entries: readonly string[] = [],
): Map<string, InputFormat> {
  const named = entries
    .filter((entry) => entry.includes(':'))
    .map((entry) => entry.slice(0, entry.lastIndexOf(':')).trim());
  const strays = named.filter((topic) => !topics.includes(topic));
  if (strays.length > 0) {
    const hints = strays.map((topic) => {
      const near = nearestName(topic, topics);
      return near === undefined ? topic : `${topic} (did you mean ${near}?)`;
    });
    throw new BridgeError(
      'CONFIG_INVALID',
      `INPUT_FORMATS names ${hints.join(', ')}, not in KAFKA_TOPICS (${topics.join(', ')})`,
      { context: { variable: 'INPUT_FORMATS' } },
    );
  }
  return new Map(
    topics.map((topic) => [topic, inputFormats[configuredFormat(topic, entries) ?? defaultInputFormat]]),
  );
}

/** The format INPUT_FORMATS gives `topic`: its own entry, else the bare default; undefined when silent. */
export function configuredFormat(
  topic: string,
  entries: readonly string[] = [],
): InputFormatName | undefined {
  let fallback: InputFormatName | undefined;
  for (const entry of entries) {
    const colon = entry.lastIndexOf(':');
    const format = entry.slice(colon + 1).trim() as InputFormatName;
    if (colon < 0) fallback = format;
    else if (entry.slice(0, colon).trim() === topic) return format;
  }
  return fallback;
}

/** False when every topic is read as schemaless json (INPUT_FORMATS): nothing needs the registry. */
export function needsRegistry(
  topics: readonly string[] | undefined,
  entries: readonly string[] | undefined,
): boolean {
  // Without topics (a command that reads none), the default format decides.
  const names = (topics === undefined || topics.length === 0 ? [undefined] : topics).map(
    (topic) =>
      (topic === undefined ? configuredFormat('', entries) : configuredFormat(topic, entries)) ??
      defaultInputFormat,
  );
  return names.some((name) => inputFormats[name].schemaType !== undefined);
}

export interface LoadInputsOptions {
  readonly topics: readonly string[];
  /** INPUT_FORMATS. */
  readonly formats?: readonly string[] | undefined;
  /** MAPPINGS_FILE. */
  readonly mappingsFile?: string | undefined;
  /**
   * The registry, to check each mapping's field names against the newest schema of its subject.
   * When it cannot be reached the mapping's own `schema:` file is used, and `onWarning` says so.
   */
  readonly registry?: Pick<RegistryLookup, 'latest'> | undefined;
  readonly onWarning?: ((message: string) => void) | undefined;
  /** Injectable for tests; default fs.readFileSync as UTF-8. */
  readonly readFile?: (path: string) => string;
}

/**
 * Settles the inputs for `run` (and the tools): formats, then the mapping file compiled against
 * the writer schemas the registry holds for the mapped subjects. Any problem is CONFIG_INVALID
 * (exit 3) naming the file, the mapping and the expression, or the topic and the setting.
 */
export async function loadInputs(options: LoadInputsOptions): Promise<Inputs> {
  const formats = topicFormats(options.topics, options.formats);
  let mappings: MappingSet | undefined;
  if (options.mappingsFile !== undefined) {
    // The file is read twice (here for the subjects, then to compile): compiling needs the fields.
    const writers =
      options.registry === undefined
        ? new Map<string, MappingWriter>()
        : await registryWriters(
            peekDefinitions(options.mappingsFile, options.readFile),
            options.registry,
            options.onWarning,
          );
    mappings = loadMappings(options.mappingsFile, {
      knownFields: (definition) => writers.get(definition.name)?.knownFields,
      ...(options.readFile === undefined ? {} : { readFile: options.readFile }),
    });
  }
  checkEveryTopicCanDeliver(formats, mappings, options.mappingsFile);
  return { formats, mappings };
}

/**
 * The subjects whose schemas a mapping's records are written with: the ones it names, else
 * `<topic>-value` of each topic it names (TopicNameStrategy, the serializers' default).
 */
export function mappedSubjects(match: MappingDefinition['match']): string[] {
  if (match.subjects !== undefined) return [...match.subjects];
  return (match.topics ?? []).map((topic) => `${topic}-value`);
}

/** The writer schema a mapping's records are written with, as the registry holds it now. */
export interface MappingWriter {
  readonly writer: Writer;
  /** The record of the writer the mapping takes (a .proto may define several). */
  readonly record: string | undefined;
  readonly schema: LatestSchema;
  /** Its fields, for the start-up check; the source names the subject and version. */
  readonly knownFields: KnownFields | undefined;
}

/**
 * Each mapping's writer from the newest schema of its subjects (mappedSubjects): the first whose
 * schema holds the record the mapping names. A subject the registry cannot give is reported to
 * `onWarning` and skipped; one holding another record, or a schema that does not parse (the
 * runtime's to dead-letter), is skipped.
 */
export async function registryWriters(
  definitions: readonly MappingDefinition[],
  registry: Pick<RegistryLookup, 'latest'>,
  onWarning?: (message: string) => void,
): Promise<Map<string, MappingWriter>> {
  // All subjects at once: start-up waits for the slowest answer, not for their sum.
  const latest = new Map<string, Promise<LatestSchema | undefined>>();
  for (const subject of definitions.flatMap((definition) => mappedSubjects(definition.match))) {
    if (latest.has(subject)) continue;
    const pending = registry.latest(subject);
    pending.catch(() => {});
    latest.set(subject, pending);
  }
  const found = new Map<string, MappingWriter>();
  for (const definition of definitions) {
    for (const subject of mappedSubjects(definition.match)) {
      let schema: LatestSchema | undefined;
      try {
        schema = await latest.get(subject);
      } catch (error) {
        onWarning?.(
          `MAPPINGS_FILE: the registry could not give subject ${subject} for mapping "${definition.name}" (${error instanceof Error ? error.message : String(error)}); its field names are checked against its schema: file, if any`,
        );
        continue;
      }
      const writer = schema === undefined ? undefined : mappingWriter(schema, definition);
      if (writer !== undefined) {
        found.set(definition.name, writer);
        break;
      }
    }
  }
  return found;
}

/** The writer of `schema` when it holds the record the mapping takes. */
function mappingWriter(schema: LatestSchema, definition: MappingDefinition): MappingWriter | undefined {
  const format = Object.values(inputFormats).find((candidate) => candidate.schemaType === schema.schemaType);
  if (format?.writer === undefined) return undefined;
  let writer: Writer;
  try {
    writer = format.writer(schema, schema.id);
  } catch {
    // A subject whose newest schema does not parse is the runtime's to dead-letter, not start-up's.
    return undefined;
  }
  const records = definition.match.records;
  const record =
    records === undefined ? writer.records[0] : writer.records.find((name) => records.includes(name));
  // The subject holds another record (a topic carrying several), or the canonical one.
  if ((records !== undefined && record === undefined) || record === canonicalRecordName) return undefined;
  const fields = writer.knownFields(record);
  const knownFields =
    fields === undefined
      ? undefined
      : { ...fields, source: `${fields.source} (subject ${schema.subject} version ${schema.version})` };
  return { writer, record, schema, knownFields };
}

/** The definitions as written (YAML and outline only); the real load reports any problem. */
export function peekDefinitions(
  file: string,
  readFile?: (path: string) => string,
): readonly MappingDefinition[] {
  try {
    const text = (readFile ?? ((path: string) => readFileSync(path, 'utf8')))(file);
    return mappingFileSchema.safeParse(parseYaml(text)).data?.mappings ?? [];
  } catch {
    return [];
  }
}

/**
 * A topic read as JSON or Protobuf has no canonical records: without a mapping that can take its
 * records, every one would be dead-lettered.
 */
function checkEveryTopicCanDeliver(
  formats: ReadonlyMap<string, InputFormat>,
  mappings: MappingSet | undefined,
  file: string | undefined,
): void {
  const problems: string[] = [];
  for (const [topic, format] of formats) {
    if (format.name === 'avro') continue;
    const taken = mappings?.mappings.some(
      (mapping) => mapping.match.topics === undefined || mapping.match.topics.includes(topic),
    );
    if (taken === true) continue;
    problems.push(
      file === undefined
        ? `topic ${topic} is read as ${format.name}, which only mappings can deliver, but MAPPINGS_FILE is not set`
        : `topic ${topic} is read as ${format.name}, which only mappings can deliver, but no mapping in ${file} takes records from it`,
    );
  }
  if (problems.length > 0) {
    throw new BridgeError('CONFIG_INVALID', `INPUT_FORMATS: ${problems.join('; ')}`, {
      context: { variable: 'INPUT_FORMATS', details: problems },
    });
  }
}
