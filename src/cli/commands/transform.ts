import type avro from 'avsc';
import { BridgeError } from '../../errors.ts';
import { decodeAvroJson } from '../../schemas/avro-json.ts';
import { loadSchemaFile, newestSchema } from '../../schemas/registry-files.ts';
import { transformEvent, type InteractionEvent } from '../../transform/transform.ts';
import { ExitCode, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';
import { createLineWriter, readInputLines } from '../line-input.ts';
import { cliValidator, findingsOf, inferredRulesHelp, inferredRulesOption } from '../validation-options.ts';
import { resolve } from 'node:path';

const help = `Usage: gong-bridge transform [FILE] [--schema PATH] [--inferred-rules MODE]

Turns canonical interaction events into the bodies gong-bridge would send to Gong, offline.
Reads FILE, or stdin when FILE is absent or "-": one event per line in Avro's JSON encoding,
the same form kafka-avro-console-producer takes (unions wrapped, e.g. {"string":"x"} or
{"io.gongbridge.Device":"PC"}; null stays bare; fields with a default may be left out).

Options:
  --schema PATH            Avro schema (.avsc) the events are written with
                          (default: the newest schemas/interaction-event.v*.avsc).
${inferredRulesHelp}

For every non-blank input line, writes one JSON line:
  {"line":N,"ok":true,"body":{...}}
  {"line":N,"ok":true,"body":{...},"warnings":["<path>: <message> [inferred rule R]", ...],"inferredRules":[R]}
  {"line":N,"ok":false,"errors":["<path>: <message>", ...]}
N is the 1-based input line number; blank lines are skipped but counted. A line that does not
match the schema, or whose event breaks a rule Gong documents or the bridge's limits, is not ok:
the bridge would dead-letter it without a call. Warnings name rules we inferred but Gong does not
document: the bridge sends such an event, flagged (see check-payload --help).

Exit codes: 0 every line ok (warnings allowed), 1 at least one line not ok, 2 usage error or
unreadable input/schema, 3 a bad GONG_* setting in the environment.

Examples:
  gong-bridge transform test/fixtures/avro-events.valid.jsonl
  gong-bridge transform events.jsonl --schema schemas/interaction-event.v1.avsc
  gong-bridge transform < events.jsonl | jq -c 'select(.ok) | .body' | gong-bridge check-payload
  gong-bridge transform events.jsonl --inferred-rules reject | jq -c 'select(.ok == false)'
`;

export const transformCommand: CliCommand = {
  name: 'transform',
  summary: 'Turn Avro-JSON interaction events into Gong request bodies, offline.',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { positionals, values } = parseCommandArgs(
      { schema: { type: 'string' }, ...inferredRulesOption },
      argv,
    );
    if (positionals.length > 1)
      throw new BridgeError('USAGE', `expected at most one FILE, got ${positionals.length}`);
    const validate = cliValidator(values['inferred-rules'], io);
    const type = loadType(values.schema, io);
    let lineNumber = 0;
    let failed = 0;
    const out = createLineWriter(io.stdout);
    try {
      for await (const line of readInputLines(positionals[0], io)) {
        lineNumber += 1;
        if (line.trim() === '') continue;
        const decoded = decodeAvroJson(type, line);
        const result = decoded.ok ? transformEvent(decoded.value as InteractionEvent, validate) : decoded;
        if (!result.ok) failed += 1;
        const record = result.ok
          ? { line: lineNumber, ok: true, body: result.body, ...findingsOf(result) }
          : { line: lineNumber, ok: false, errors: result.errors, ...findingsOf(result) };
        if (!(await out.write(JSON.stringify(record)))) break;
      }
    } finally {
      out.close();
    }
    return failed === 0 ? ExitCode.ok : ExitCode.failure;
  },
};

function loadType(schema: string | undefined, io: CliIo): avro.Type {
  if (schema === undefined) return newestSchema().type;
  try {
    return loadSchemaFile(resolve(io.cwd, schema));
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new BridgeError('INPUT_UNREADABLE', `cannot use schema ${schema}: ${message}`, { cause });
  }
}
