import { BridgeError } from '../../errors.ts';
import type { GongBodyValidator } from '../../gong/validate.ts';
import { ExitCode, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';
import { createLineWriter, readInputLines } from '../line-input.ts';
import { cliValidator, findingsOf, inferredRulesHelp, inferredRulesOption } from '../validation-options.ts';

const help = `Usage: gong-bridge check-payload [FILE] [--inferred-rules MODE]

Checks Gong request bodies (JSON Lines, one body per line) the way the bridge does before a call
to POST /v2/digital-interaction, without calling Gong. Reads FILE, or stdin when FILE is absent
or "-".

Two tiers (docs/reference/body-rules.md): errors are rules Gong documents and the bridge's own
limits (GONG_MAX_STRING_LENGTH, GONG_MAX_LIST_ITEMS); the bridge withholds such a body.
Warnings are rules we inferred but Gong does not document; the bridge sends such a body,
flagged, and Gong decides.

Options:
${inferredRulesHelp}

For every non-blank input line, writes one JSON line:
  {"line":N,"valid":true}
  {"line":N,"valid":true,"warnings":["<path>: <message> [inferred rule R]", ...],"inferredRules":[R, ...]}
  {"line":N,"valid":false,"errors":["<path>: <message>", ...]}
N is the 1-based line number in the input. Blank lines are skipped (no output) but still counted,
so N always points at the line in your file. A line that is not JSON is invalid. An invalid line
also lists its warnings and inferred rules, when it has any.

Exit codes: 0 no line invalid (warnings allowed), 1 at least one line invalid, 2 usage error or
unreadable input, 3 a bad GONG_* setting in the environment.

Examples:
  gong-bridge check-payload bodies.jsonl
  gong-bridge check-payload < bodies.jsonl | jq -c 'select(.valid == false)'
  gong-bridge check-payload bodies.jsonl | jq -c 'select(.warnings)'
  gong-bridge check-payload bodies.jsonl --inferred-rules reject
  echo '{"eventId":"e1","timestamp":"2025-01-31T12:00:00Z","eventType":"page viewed","content":{"contentTitle":"Pricing"},"trackingId":"t1"}' | gong-bridge check-payload
`;

export const checkPayloadCommand: CliCommand = {
  name: 'check-payload',
  summary: 'Validate Gong request bodies (JSON Lines) against the API contract.',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { positionals, values } = parseCommandArgs(inferredRulesOption, argv);
    if (positionals.length > 1)
      throw new BridgeError('USAGE', `expected at most one FILE, got ${positionals.length}`);
    const validate = cliValidator(values['inferred-rules'], io);
    let lineNumber = 0;
    let invalid = 0;
    const out = createLineWriter(io.stdout);
    try {
      for await (const line of readInputLines(positionals[0], io)) {
        lineNumber += 1;
        if (line.trim() === '') continue;
        const record = { line: lineNumber, ...checkLine(line, validate) };
        if (!record.valid) invalid += 1;
        if (!(await out.write(JSON.stringify(record)))) break;
      }
    } finally {
      out.close();
    }
    return invalid === 0 ? ExitCode.ok : ExitCode.failure;
  },
};

function checkLine(
  line: string,
  validate: GongBodyValidator,
): { valid: boolean; errors?: string[]; warnings?: string[]; inferredRules?: readonly string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (cause) {
    return {
      valid: false,
      errors: [`(root): not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`],
    };
  }
  const result = validate(parsed);
  return result.ok
    ? { valid: true, ...findingsOf(result) }
    : { valid: false, errors: result.errors, ...findingsOf(result) };
}
