import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import avro from 'avsc';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { BridgeError } from '../errors.ts';
import { newestSchema } from '../schemas/registry-files.ts';
import type { CompiledMapping } from './apply.ts';
import { planMapping, type CompileProblem } from './compile.ts';
import { mappingFileSchema, type MappingDefinition, type MappingSchemaRef } from './file-schema.ts';
import { fromAvro, fromJsonSchema, fromProtobuf, type KnownFields } from './known-fields.ts';
import { parseProtoSchema } from './proto-file.ts';

/** What identifies a record's writer: its schema's record name, or the subject it is registered under. */
export interface WriterIdentity {
  /** Avro record full name, Protobuf message full name, or JSON Schema title. */
  readonly record?: string | undefined;
  readonly subject?: string | undefined;
}

export interface MappingSet {
  readonly file: string;
  readonly mappings: readonly CompiledMapping[];
  /**
   * The mapping for a record, or undefined: canonical records (io.gongbridge.InteractionEvent)
   * never have one and keep using transformEvent; any other record without one is the wiring's
   * to refuse. The most specific match wins: a mapping naming the record beats one naming the
   * subject, and either beats one naming only the topic; naming the topic as well breaks ties.
   */
  selectMapping(topic: string, writer?: WriterIdentity): CompiledMapping | undefined;
}

export interface LoadMappingsOptions {
  /**
   * The writer schema's fields for a mapping, e.g. from the registry's latest schema of its
   * subject; undefined when not known. Takes precedence over the mapping's own `schema:` file.
   */
  readonly knownFields?: (mapping: MappingDefinition) => KnownFields | undefined;
  /** Injectable for tests; default fs.readFileSync as UTF-8. */
  readonly readFile?: (path: string) => string;
}

/** The canonical record, which never takes a mapping. */
export const canonicalRecordName = `${(newestSchema().schema as { namespace?: string }).namespace ?? ''}.${(newestSchema().schema as { name: string }).name}`;

/**
 * Reads MAPPINGS_FILE and compiles every mapping. Any problem (the file, its outline, a body field
 * Gong does not have, an expression that does not compile, a field the writer schema does not
 * have, two mappings claiming the same records) stops start-up: a BridgeError CONFIG_INVALID
 * (exit 3) whose message names the file, line, mapping, field and expression of each.
 */
export function loadMappings(file: string, options: LoadMappingsOptions = {}): MappingSet {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  let text: string;
  try {
    text = readFile(file);
  } catch (cause) {
    throw new BridgeError('CONFIG_INVALID', `MAPPINGS_FILE: cannot read ${file}: ${messageOf(cause)}`, {
      context: { variable: 'MAPPINGS_FILE' },
      cause,
    });
  }
  return compileMappings(text, { ...options, file, readFile });
}

/** loadMappings on text already read; `file` names it in messages and anchors `schema:` paths. */
export function compileMappings(
  text: string,
  options: LoadMappingsOptions & { readonly file: string },
): MappingSet {
  const { file } = options;
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: string[] = [];
  const where = (at: readonly (string | number)[]) => `${file}:${locate(document, lines, at)}`;

  if (document.errors.length > 0) {
    for (const error of document.errors) {
      const position = lines.linePos(error.pos[0]);
      problems.push(
        `${file}:${position.line}:${position.col}: not valid YAML or JSON: ${error.message.split('\n')[0]}`,
      );
    }
    throw invalid(file, problems);
  }
  const parsed = mappingFileSchema.safeParse(document.toJS());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = issue.path.filter((part): part is string | number => typeof part !== 'symbol');
      problems.push(`${where(at)}: ${at.length === 0 ? '(file)' : at.join('.')}: ${issue.message}`);
    }
    throw invalid(file, problems);
  }

  const compiled: CompiledMapping[] = [];
  const names = new Set<string>();
  parsed.data.mappings.forEach((definition, index) => {
    const at = (path: readonly (string | number)[]) => where(['mappings', index, ...path]);
    const label = `mapping "${definition.name}"`;
    if (names.has(definition.name))
      problems.push(`${at(['name'])}: ${label} is defined twice; names must be unique`);
    names.add(definition.name);
    if (definition.match.records?.includes(canonicalRecordName)) {
      problems.push(
        `${at(['match', 'records'])}: ${label}: ${canonicalRecordName} is the canonical schema; it needs no mapping`,
      );
    }
    let known: KnownFields | undefined;
    try {
      known = options.knownFields?.(definition) ?? knownFromSchemaFile(definition, file, readFile);
    } catch (cause) {
      problems.push(`${at(['schema'])}: ${label}: ${messageOf(cause)}`);
    }
    const { plan, problems: found } = planMapping(definition, known);
    for (const problem of found) problems.push(formatProblem(at(problem.at), label, problem));
    compiled.push({
      name: definition.name,
      file,
      match: definition.match,
      knownFields: known,
      interpretedFields: plan.expressions
        .filter((entry) => !entry.expression.compiled)
        .map((entry) => entry.field),
      plan,
    });
  });
  for (const conflict of matchConflicts(compiled)) problems.push(`${file}: ${conflict}`);
  if (problems.length > 0) throw invalid(file, problems);

  return {
    file,
    mappings: compiled,
    selectMapping: (topic, writer) => selectMapping(compiled, topic, writer),
  };
}

function formatProblem(where: string, label: string, problem: CompileProblem): string {
  const expression =
    problem.expression === undefined
      ? ''
      : `\n      expression: ${problem.expression.replaceAll('\n', '\n                  ')}`;
  return `${where}: ${label}, ${problem.field}: ${problem.message}${expression}`;
}

function invalid(file: string, problems: readonly string[]): BridgeError {
  const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`;
  return new BridgeError(
    'CONFIG_INVALID',
    `MAPPINGS_FILE ${file} has ${count}:\n  - ${problems.join('\n  - ')}`,
    {
      context: { variable: 'MAPPINGS_FILE', details: problems },
    },
  );
}

/** `line:column` of the deepest key (or list item) of `path` the document has. */
function locate(document: Document, lines: LineCounter, path: readonly (string | number)[]): string {
  for (let depth = path.length; depth > 0; depth--) {
    const parent = document.getIn(path.slice(0, depth - 1), true);
    const last = path[depth - 1];
    let range: readonly number[] | null | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
      range = isScalar(pair?.key) ? pair.key.range : undefined;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last] as { range?: readonly number[] | null } | undefined;
      range = item?.range;
    }
    if (range !== undefined && range !== null) {
      const position = lines.linePos(range[0]!);
      return `${position.line}:${position.col}`;
    }
  }
  return '1:1';
}

function knownFromSchemaFile(
  definition: MappingDefinition,
  mappingFile: string,
  readFile: (path: string) => string,
): KnownFields | undefined {
  const ref: MappingSchemaRef | undefined = definition.schema;
  if (ref === undefined) return undefined;
  const relative = typeof ref === 'string' ? ref : ref.file;
  const path = resolve(dirname(mappingFile), relative);
  let text: string;
  try {
    text = readFile(path);
  } catch (cause) {
    throw new Error(`cannot read schema ${relative}: ${messageOf(cause)}`, { cause });
  }
  const extension = extname(path).toLowerCase();
  try {
    if (extension === '.avsc') {
      const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
      return { source: `Avro record ${type.name ?? type.typeName} (${relative})`, root: fromAvro(type) };
    }
    if (extension === '.json') {
      const schema = JSON.parse(text) as { title?: unknown };
      const title = typeof schema.title === 'string' ? ` ${schema.title}` : '';
      return { source: `JSON Schema${title} (${relative})`, root: fromJsonSchema(schema) };
    }
    if (extension === '.proto') {
      const message = (typeof ref === 'object' ? ref.message : undefined) ?? soleRecord(definition);
      const type = parseProtoSchema(text).lookupType(message);
      return {
        source: `Protobuf message ${type.fullName.replace(/^\./, '')} (${relative})`,
        root: fromProtobuf(type),
      };
    }
  } catch (cause) {
    throw new Error(`cannot use schema ${relative}: ${messageOf(cause)}`, { cause });
  }
  throw new Error(`schema ${relative}: expected a .avsc, .json (JSON Schema) or .proto file`);
}

function soleRecord(definition: MappingDefinition): string {
  const records = definition.match.records ?? [];
  if (records.length !== 1)
    throw new Error('a .proto schema needs {file, message} unless match.records names exactly one message');
  return records[0]!;
}

/** How specific a mapping's match is: the record beats the subject beats the topic alone. */
function specificity(mapping: CompiledMapping, writer: WriterIdentity | undefined, topic: string): number {
  const { topics, records, subjects } = mapping.match;
  if (topics !== undefined && !topics.includes(topic)) return 0;
  let score = topics === undefined ? 0 : 1;
  if (records !== undefined || subjects !== undefined) {
    if (writer?.record !== undefined && records?.includes(writer.record) === true) score += 4;
    else if (writer?.subject !== undefined && subjects?.includes(writer.subject) === true) score += 2;
    else return 0;
  }
  return score;
}

export function selectMapping(
  mappings: readonly CompiledMapping[],
  topic: string,
  writer?: WriterIdentity,
): CompiledMapping | undefined {
  if (writer?.record === canonicalRecordName) return undefined;
  let best: CompiledMapping | undefined;
  let bestScore = 0;
  for (const mapping of mappings) {
    const score = specificity(mapping, writer, topic);
    if (score > bestScore) {
      best = mapping;
      bestScore = score;
    }
  }
  return best;
}

/** Two mappings that would both claim some record with the same specificity. */
function matchConflicts(mappings: readonly CompiledMapping[]): string[] {
  const conflicts: string[] = [];
  const overlap = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
    a === undefined || b === undefined ? a === b : a.some((item) => b.includes(item));
  for (let i = 0; i < mappings.length; i++) {
    for (let j = i + 1; j < mappings.length; j++) {
      const a = mappings[i]!.match;
      const b = mappings[j]!.match;
      if ((a.topics === undefined) !== (b.topics === undefined) || !overlap(a.topics, b.topics)) continue;
      const writerA = a.records !== undefined || a.subjects !== undefined;
      const writerB = b.records !== undefined || b.subjects !== undefined;
      if (writerA !== writerB) continue;
      const sameRecords = a.records !== undefined && b.records !== undefined && overlap(a.records, b.records);
      const sameSubjects =
        a.subjects !== undefined && b.subjects !== undefined && overlap(a.subjects, b.subjects);
      if (writerA && !sameRecords && !sameSubjects) continue;
      conflicts.push(
        `mappings "${mappings[i]!.name}" and "${mappings[j]!.name}" match the same records equally well; ` +
          'make their topics, records or subjects distinct',
      );
    }
  }
  return conflicts;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
