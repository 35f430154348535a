import { BridgeError } from '../../errors.ts';
import { runDoctor, type CheckResult } from '../../doctor/checks.ts';
import { ExitCode, numberOption, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';

const options = {
  json: { type: 'boolean' },
  'gong-auth': { type: 'boolean' },
  'create-dlq': { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

const help = `Usage: gong-bridge doctor [options]

Checks the configuration in the environment end to end, the way \`gong-bridge run\` would use it,
and prints a checklist: ✓ passed, ! passed with a warning (a misspelt variable, certificate
verification off), ✗ failed (with the fix on the next line), - skipped because an earlier check
failed or it was not asked for. URLs are printed without their user and password.

  configuration parses     every setting, TLS/SASL files, required settings for run
  Kafka brokers answer     connect and describe the cluster
  input topics exist       KAFKA_TOPICS are listed by the brokers
  dead-letter topic        exists, or this principal may create it (a validate-only CreateTopics),
                           as run does at start-up; doctor creates it only with --create-dlq
  consumer group readable  describe KAFKA_GROUP_ID and fetch its committed offsets
  schema registry answers  GET /subjects
  registry subjects exist  <topic>-value for every input topic that exists and is read
                           through the registry (INPUT_FORMATS: not schemaless json)
  mappings fit their schemas  MAPPINGS_FILE loads as run loads it (INPUT_FORMATS, expressions,
                           field names against the registry's newest schemas); then each
                           mapping runs over 40 records generated from its subject's newest
                           schema (else its schema: file): ! names the Gong fields it never
                           fills, the required ones it may leave empty, what makes it throw
  Redis answers            PING, only when REDIS_URL is set
  Gong reachable           an unauthenticated GET of /v2/digital-interaction: any HTTP answer
                           proves DNS, TLS and egress; Gong cannot attribute it to an account, so
                           it costs no quota
  Gong accepts credentials only with --gong-auth: POST of an intentionally invalid body {},
                           so 400 proves the credentials without recording anything and 401/403
                           means they are wrong. This spends ONE call of the account's quota.

Options:
  --json          Print {"ok":bool,"checks":[{id,title,status,detail,fix}]} on stdout instead.
  --gong-auth     Also prove the Gong credentials, spending one API call.
  --create-dlq    Create the dead-letter topic if it is missing (partitions as the first input topic).
  --timeout MS    Time allowed for each network step (default 5000). Doctor never waits longer.

Exit codes: 0 every check passed, 1 some check failed, 2 usage error.

Examples:
  gong-bridge doctor
  gong-bridge doctor --gong-auth
  KAFKA_BROKERS=kafka:9092 KAFKA_TOPICS=interactions gong-bridge doctor --json | jq '.checks[] | select(.status=="fail")'
  gong-bridge doctor --create-dlq --timeout 10000
`;

export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'Check a configuration end to end: Kafka, topics, group, registry, mappings, Redis, Gong.',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(options, argv, false);
    if (positionals.length > 0) throw new BridgeError('USAGE', `unexpected argument ${positionals[0]}`);
    const timeoutMs = Math.floor(numberOption('timeout', values.timeout, 5_000, 100));
    if (values['gong-auth'] === true && values.json !== true) {
      io.stderr.write('--gong-auth: spending one Gong API call (it counts against the daily quota).\n');
    }
    const results = await runDoctor({
      env: io.env,
      timeoutMs,
      gongAuth: values['gong-auth'] === true,
      createDlq: values['create-dlq'] === true,
    });
    const failed = results.filter((result) => result.status === 'fail').length;
    if (values.json === true) {
      io.stdout.write(`${JSON.stringify({ ok: failed === 0, checks: results })}\n`);
    } else {
      io.stdout.write(formatChecklist(results, colours(io)));
    }
    return failed === 0 ? ExitCode.ok : ExitCode.failure;
  },
};

interface Palette {
  readonly green: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly red: (text: string) => string;
  readonly dim: (text: string) => string;
}

const same = (text: string) => text;
const plain: Palette = { green: same, yellow: same, red: same, dim: same };

// Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org); the glyphs
// carry the meaning on their own, so logs and pipes lose nothing.
function colours(io: CliIo): Palette {
  if (io.stdout.isTTY !== true || (io.env.NO_COLOR ?? '') !== '') return plain;
  const wrap = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
  return { green: wrap(32), yellow: wrap(33), red: wrap(31), dim: wrap(2) };
}

export function formatChecklist(results: readonly CheckResult[], palette: Palette = plain): string {
  const lines: string[] = [];
  for (const result of results) {
    if (result.status === 'ok') lines.push(`${palette.green('✓')} ${result.title}: ${result.detail}`);
    else if (result.status === 'warn') lines.push(`${palette.yellow('!')} ${result.title}: ${result.detail}`);
    else if (result.status === 'fail') {
      lines.push(`${palette.red('✗')} ${result.title}: ${result.detail}`);
      lines.push(`    fix: ${result.fix ?? 'see docs/reference/configuration.md'}`);
    } else lines.push(palette.dim(`- ${result.title}: ${result.detail}`));
  }
  const failed = results.filter((result) => result.status === 'fail').length;
  lines.push('', failed === 0 ? 'All checks passed.' : `${failed} check${failed === 1 ? '' : 's'} failed.`);
  return `${lines.join('\n')}\n`;
}
