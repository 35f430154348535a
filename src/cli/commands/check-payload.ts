import { BridgeError } from '../../errors.ts';
import { validateGongBody } from '../../gong/validate.ts';
import { ExitCode, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';
import { createLineWriter, readInputLines } from '../line-input.ts';

const help = `Usage: gong-bridge check-payload [FILE]

Checks Gong request bodies (JSON Lines, one body per line) against the contract of
POST /v2/digital-interaction, without calling Gong. Reads FILE, or stdin when FILE is absent or "-".

For every non-blank input line, writes one JSON line:
  {"line":N,"valid":true}
  {"line":N,"valid":false,"errors":["<path>: <message>", ...]}
N is the 1-based line number in the input. Blank lines are skipped (no output) but still counted,
so N always points at the line in your file. A line that is not JSON is invalid.

Exit codes: 0 every line valid, 1 at least one line invalid, 2 usage error or unreadable input.

Examples:
  gong-bridge check-payload bodies.jsonl
  gong-bridge check-payload < bodies.jsonl | jq -c 'select(.valid == false)'
  echo '{"eventId":"e1","timestamp":"2025-01-31T12:00:00Z","eventType":"page viewed","content":{"contentTitle":"Pricing"},"trackingId":"t1"}' | gong-bridge check-payload
`;

export const checkPayloadCommand: CliCommand = {
  name: 'check-payload',
  summary: 'Validate Gong request bodies (JSON Lines) against the API contract.',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { positionals } = parseCommandArgs({}, argv);
    if (positionals.length > 1)
      throw new BridgeError('USAGE', `expected at most one FILE, got ${positionals.length}`);
    let lineNumber = 0;
    let invalid = 0;
    const out = createLineWriter(io.stdout);
    try {
      for await (const line of readInputLines(positionals[0], io)) {
        lineNumber += 1;
        if (line.trim() === '') continue;
        const result = checkLine(line);
        if (!result.valid) invalid += 1;
        const record = result.valid
          ? { line: lineNumber, valid: true }
          : { line: lineNumber, valid: false, errors: result.errors };
        if (!(await out.write(JSON.stringify(record)))) break;
      }
    } finally {
      out.close();
    }
    return invalid === 0 ? ExitCode.ok : ExitCode.failure;
  },
};

function checkLine(line: string): { valid: true } | { valid: false; errors: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (cause) {
    return {
      valid: false,
      errors: [`(root): not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`],
    };
  }
  const result = validateGongBody(parsed);
  return result.ok ? { valid: true } : { valid: false, errors: result.errors };
}
