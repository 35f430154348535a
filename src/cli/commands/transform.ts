import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type avro from 'avsc';
import { loadConfig } from '../../config/config.ts';
import {
  inputFormatNames,
  inputFormats,
  type InputFormat,
  type InputFormatName,
  type Writer,
} from '../../decode/formats/index.ts';
import { configuredFormat, peekDefinitions } from '../../decode/inputs.ts';
import { formatOfSchemaFile, offlineInput, writerFromFile, type OfflineInput } from '../../decode/offline.ts';
import type { PreparedRecord } from '../../decode/prepare.ts';
import { createRegistryLookup } from '../../decode/registry.ts';
import { BridgeError } from '../../errors.ts';
import type { GongBodyValidator } from '../../gong/validate.ts';
import { loadMappings, type MappingSet } from '../../mapping/index.ts';
import { registryClientOptions } from '../../kafka/connection.ts';
import { decodeAvroJson } from '../../schemas/avro-json.ts';
import { loadSchemaFile, newestSchema } from '../../schemas/registry-files.ts';
import { transformEvent, type InteractionEvent } from '../../transform/transform.ts';
import { ExitCode, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';
import { createLineWriter, readInputLines } from '../line-input.ts';
import { cliValidator, findingsOf, inferredRulesHelp, inferredRulesOption } from '../validation-options.ts';

const help = `Usage: gong-bridge transform [FILE] [--schema PATH] [--inferred-rules MODE]
       gong-bridge transform [FILE] --mapping FILE --topic T [--schema PATH | --registry]
                             [--format F] [--inferred-rules MODE]

Shows, offline, the bodies gong-bridge would send to Gong for sample events.
Reads FILE, or stdin when FILE is absent or "-", one event per line.

Without --mapping: canonical interaction events in Avro's JSON encoding, the same form
kafka-avro-console-producer takes (unions wrapped, e.g. {"string":"x"} or
{"io.gongbridge.Device":"PC"}; null stays bare; fields with a default may be left out).

With --mapping: the events a topic carries, in the topic's format as JSON (for Avro, Avro's
JSON encoding as above; for Protobuf, protobufjs' JSON form, the .proto's names in camelCase or
as written; for JSON, the value itself), mapped by the mapping file as \`run\` would map
records of topic T (docs/mappings.md). The lines are read with the writer schema from:
  --schema PATH            an .avsc, JSON Schema .json or .proto file;
  --registry               the newest schema of the topic's subject in the registry
                           (SCHEMA_REGISTRY_URL and credentials from the environment; the
                           subject a mapping for T names, else T-value);
  otherwise                the schema: file of the mappings for T.

Options:
  --schema PATH            Writer schema of the events (without --mapping: an .avsc, default
                          the newest schemas/interaction-event.v*.avsc).
  --mapping FILE           Mapping file (the MAPPINGS_FILE of run).
  --topic T                The topic the events come from: it selects the mapping and, with
                          INPUT_FORMATS in the environment, the format.
  --registry               Take the writer schema from the registry.
  --format F               The topic's format (${inputFormatNames.join(', ')}); default INPUT_FORMATS
                          for T, else the kind of the schema file, else avro.
${inferredRulesHelp}

For every non-blank input line, writes one JSON line:
  {"line":N,"ok":true,"body":{...}}                          (with --mapping: ,"mapping":"name")
  {"line":N,"ok":true,"body":{...},"warnings":["<path>: <message> [inferred rule R]", ...],"inferredRules":[R]}
  {"line":N,"ok":false,"errors":["<path>: <message>", ...]}  (with --mapping: ,"reason":"CODE")
N is the 1-based input line number; blank lines are skipped but counted. A line that does not
match the schema, whose mapping fails (MAPPING_FAILED), that no mapping takes (NO_MAPPING), or
whose body breaks a rule Gong documents or the bridge's limits (GONG_INVALID) is not ok: the
bridge would dead-letter it without a call. Warnings name rules we inferred but Gong does not
document: the bridge sends such an event, flagged (see check-payload --help).

Exit codes: 0 every line ok (warnings allowed), 1 at least one line not ok, 2 usage error or
unreadable input/schema, 3 a bad setting in the environment or a mapping file that does not load.

Examples:
  gong-bridge transform test/fixtures/avro-events.valid.jsonl
  gong-bridge transform events.jsonl --schema schemas/interaction-event.v1.avsc
  gong-bridge transform < events.jsonl | jq -c 'select(.ok) | .body' | gong-bridge check-payload
  gong-bridge transform events.jsonl --inferred-rules reject | jq -c 'select(.ok == false)'
  gong-bridge transform test/fixtures/mappings/video-progress.events.jsonl \\
    --mapping test/fixtures/mappings/mappings.yaml --topic media.video-progress
  gong-bridge transform test/fixtures/mappings/page-view.events.jsonl --topic web.page-views \\
    --mapping test/fixtures/mappings/mappings.yaml --schema test/fixtures/mappings/page-view.avsc
  gong-bridge transform events.jsonl --mapping test/fixtures/mappings/mappings.yaml \\
    --topic interactions --registry
`;

const options = {
  schema: { type: 'string' },
  mapping: { type: 'string' },
  topic: { type: 'string' },
  registry: { type: 'boolean' },
  format: { type: 'string' },
  ...inferredRulesOption,
} as const;

export const transformCommand: CliCommand = {
  name: 'transform',
  summary: 'Show the Gong bodies sample events become: canonical Avro-JSON, or any event through a mapping.',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { positionals, values } = parseCommandArgs(options, argv);
    if (positionals.length > 1)
      throw new BridgeError('USAGE', `expected at most one FILE, got ${positionals.length}`);
    const validate = cliValidator(values['inferred-rules'], io);
    let read: (line: string) => Promise<PreparedRecord | LineResult>;
    if (values.mapping === undefined) {
      for (const name of ['topic', 'registry', 'format'] as const) {
        if (values[name] !== undefined) throw new BridgeError('USAGE', `--${name} needs --mapping`);
      }
      const type = loadType(values.schema, io);
      read = async (line) => canonicalLine(type, line, validate);
    } else {
      const input = await mappedInput(values, io, validate);
      read = (line) => input.read(line);
    }
    let lineNumber = 0;
    let failed = 0;
    const out = createLineWriter(io.stdout);
    try {
      for await (const line of readInputLines(positionals[0], io)) {
        lineNumber += 1;
        if (line.trim() === '') continue;
        const record = outputLine(lineNumber, await read(line));
        if (record.ok !== true) failed += 1;
        if (!(await out.write(JSON.stringify(record)))) break;
      }
    } finally {
      out.close();
    }
    return failed === 0 ? ExitCode.ok : ExitCode.failure;
  },
};

/** The canonical path's own verdict: the body, or errors without a dead-letter reason. */
type LineResult = ReturnType<typeof transformEvent>;

function canonicalLine(type: avro.Type, line: string, validate: GongBodyValidator): LineResult {
  const decoded = decodeAvroJson(type, line);
  return decoded.ok ? transformEvent(decoded.value as InteractionEvent, validate) : decoded;
}

function outputLine(line: number, result: PreparedRecord | LineResult): Record<string, unknown> {
  if ('deadLetter' in result) {
    const { reason, message, errors, mapping } = result.deadLetter;
    return {
      line,
      ok: false,
      reason,
      ...(mapping === undefined ? {} : { mapping }),
      errors: errors ?? [message],
      ...findingsOf({
        ok: false,
        ...(result.deadLetter.inferredRules === undefined
          ? {}
          : { inferredRules: [...result.deadLetter.inferredRules] }),
      }),
    };
  }
  if ('ids' in result) {
    return {
      line,
      ok: true,
      ...(result.ids.mapping === undefined ? {} : { mapping: result.ids.mapping }),
      body: result.body,
    };
  }
  return result.ok
    ? { line, ok: true, body: result.body, ...findingsOf(result) }
    : { line, ok: false, errors: result.errors, ...findingsOf(result) };
}

interface MappedValues {
  readonly mapping?: string | undefined;
  readonly topic?: string | undefined;
  readonly schema?: string | undefined;
  readonly registry?: boolean | undefined;
  readonly format?: string | undefined;
}

async function mappedInput(
  values: MappedValues,
  io: CliIo,
  validate: GongBodyValidator,
): Promise<OfflineInput> {
  const topic = values.topic;
  if (topic === undefined)
    throw new BridgeError('USAGE', '--mapping needs --topic T: the topic selects the mapping');
  if (values.schema !== undefined && values.registry === true)
    throw new BridgeError('USAGE', '--schema and --registry are alternatives; give one');
  if (values.format !== undefined && !(inputFormatNames as readonly string[]).includes(values.format))
    throw new BridgeError(
      'USAGE',
      `--format must be one of ${inputFormatNames.join(', ')}, got ${values.format}`,
    );
  const mappingFile = resolve(io.cwd, values.mapping!);
  const mappings = loadMappings(mappingFile);
  const schemaPath =
    values.schema === undefined
      ? mappingSchemaFile(mappingFile, mappings, topic)
      : resolve(io.cwd, values.schema);
  const format =
    inputFormats[chooseFormat(values.format as InputFormatName | undefined, io, topic, schemaPath)];
  if (format.writer === undefined) return offlineInput({ topic, format, mappings, validate });
  if (values.registry === true) {
    const { writer, subject } = await registryWriter(io, format, mappings, topic);
    return offlineInput({ topic, format, writer, subject, mappings, validate });
  }
  let writer: Writer | undefined;
  if (schemaPath !== undefined) {
    let text: string;
    try {
      text = readFileSync(schemaPath, 'utf8');
    } catch (cause) {
      throw new BridgeError('INPUT_UNREADABLE', `cannot read schema ${schemaPath}: ${messageOf(cause)}`, {
        cause,
      });
    }
    writer = writerFromFile(format, text, schemaPath);
  }
  return offlineInput({ topic, format, writer, mappings, validate });
}

/** --format, else INPUT_FORMATS for the topic, else the schema file's kind, else avro. */
function chooseFormat(
  given: InputFormatName | undefined,
  io: CliIo,
  topic: string,
  schemaPath: string | undefined,
): InputFormatName {
  if (given !== undefined) return given;
  const configured = configuredFormat(topic, loadConfig(io.env).INPUT_FORMATS);
  if (configured !== undefined) return configured;
  return (schemaPath === undefined ? undefined : formatOfSchemaFile(schemaPath)) ?? 'avro';
}

/** The schema: file the mappings for `topic` name, when they agree on one. */
function mappingSchemaFile(mappingFile: string, mappings: MappingSet, topic: string): string | undefined {
  const forTopic = new Set(
    mappings.mappings
      .filter((mapping) => mapping.match.topics === undefined || mapping.match.topics.includes(topic))
      .map((mapping) => mapping.name),
  );
  const files = new Set(
    peekDefinitions(mappingFile)
      .filter((definition) => forTopic.has(definition.name) && definition.schema !== undefined)
      .map((definition) =>
        resolve(
          dirname(mappingFile),
          typeof definition.schema === 'string' ? definition.schema : definition.schema!.file,
        ),
      ),
  );
  if (files.size > 1)
    throw new BridgeError(
      'USAGE',
      `the mappings for ${topic} name several schema files (${[...files].join(', ')}); give --schema`,
    );
  return [...files][0];
}

async function registryWriter(
  io: CliIo,
  format: InputFormat,
  mappings: MappingSet,
  topic: string,
): Promise<{ writer: Writer; subject: string }> {
  const config = loadConfig(io.env, { checks: [(settings) => registryClientOptions(settings)] });
  const registry = registryClientOptions(config);
  const lookup = createRegistryLookup({
    url: registry.host,
    username: registry.auth?.username,
    password: registry.auth?.password,
    timeoutMs: 10_000,
  });
  try {
    const subjects = [
      ...new Set([
        ...mappings.mappings
          .filter((mapping) => mapping.match.topics === undefined || mapping.match.topics.includes(topic))
          .flatMap((mapping) => mapping.match.subjects ?? []),
        `${topic}-value`,
      ]),
    ];
    for (const subject of subjects) {
      const latest = await lookup.latest(subject);
      if (latest === undefined) continue;
      if (latest.schemaType !== format.schemaType) {
        throw new BridgeError(
          'INPUT_UNREADABLE',
          `subject ${subject} holds a ${latest.schemaType} schema; topic ${topic} is read as ${format.name}`,
        );
      }
      try {
        return { writer: format.writer!(latest, latest.id), subject };
      } catch (cause) {
        throw new BridgeError('INPUT_UNREADABLE', `cannot use subject ${subject}: ${messageOf(cause)}`, {
          cause,
        });
      }
    }
    throw new BridgeError('INPUT_UNREADABLE', `the registry has none of the subjects ${subjects.join(', ')}`);
  } finally {
    lookup.close();
  }
}

function loadType(schema: string | undefined, io: CliIo): avro.Type {
  if (schema === undefined) return newestSchema().type;
  try {
    return loadSchemaFile(resolve(io.cwd, schema));
  } catch (cause) {
    throw new BridgeError('INPUT_UNREADABLE', `cannot use schema ${schema}: ${messageOf(cause)}`, { cause });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
