import { effectiveConfiguration, type EffectiveSetting } from '../../config/effective.ts';
import { settingGroupTitles } from '../../config/settings.ts';
import { BridgeError } from '../../errors.ts';
import { ExitCode, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';

const options = {
  json: { type: 'boolean' },
  set: { type: 'boolean' },
} as const;

const help = `Usage: gong-bridge config [--set] [--json]

Shows the configuration in force, as \`gong-bridge run\` would read it from this environment:
every setting, its value, and where the value came from:
  environment   the variable is set
  file          a secret read from <NAME>_FILE (the way Kubernetes mounts secrets)
  default       not set; the documented default applies
  unset         not set and without a default (the feature is off, or a command needs it)
Secrets show only as [redacted]; URLs show without the user and password in them. Below the
table come the problems that would stop start-up, every one of them, and warnings: variables
that look like settings but are not (with the nearest real name), and settings that weaken
security. Nothing is contacted: \`gong-bridge doctor\` checks the services.

Options:
  --set      Only settings given in the environment or a file.
  --json     Print {"ok":bool,"settings":[{name,group,value,source,secret,...}],"problems":[...],
             "warnings":[{variable,message}]} on stdout instead.

Exit codes: 0 the configuration parses, 2 usage error, 3 some setting is invalid.

Examples:
  gong-bridge config
  gong-bridge config --set
  gong-bridge config --json | jq '.settings[] | select(.source == "environment")'
`;

export const configCommand: CliCommand = {
  name: 'config',
  summary: 'Show every setting in force, its value and where it came from (secrets redacted).',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(options, argv, false);
    if (positionals.length > 0) throw new BridgeError('USAGE', `unexpected argument ${positionals[0]}`);
    const effective = effectiveConfiguration(io.env);
    const rows = effective.settings.filter((row) => values.set !== true || isGiven(row));
    const ok = effective.problems.length === 0;
    if (values.json === true) {
      const report = { ok, settings: rows, problems: effective.problems, warnings: effective.warnings };
      io.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      io.stdout.write(formatConfiguration(rows, effective.problems, effective.warnings));
    }
    return ok ? ExitCode.ok : ExitCode.config;
  },
};

function isGiven(row: EffectiveSetting): boolean {
  return row.source === 'environment' || row.source === 'file';
}

export function formatConfiguration(
  rows: readonly EffectiveSetting[],
  problems: readonly string[],
  warnings: readonly { message: string }[],
): string {
  const nameWidth = Math.max(0, ...rows.map((row) => row.name.length));
  const valueWidth = Math.min(48, Math.max(0, ...rows.map((row) => displayValue(row).length)));
  const lines: string[] = [];
  for (const [group, title] of Object.entries(settingGroupTitles)) {
    const inGroup = rows.filter((row) => row.group === group);
    if (inGroup.length === 0) continue;
    if (lines.length > 0) lines.push('');
    lines.push(title);
    for (const row of inGroup) {
      const source = row.from === undefined ? row.source : `${row.source} (${row.from})`;
      const marker = row.problem === undefined ? '' : '  ✗ invalid';
      lines.push(
        `  ${row.name.padEnd(nameWidth)}  ${displayValue(row).padEnd(valueWidth)}  ${source}${marker}`,
      );
    }
  }
  if (problems.length > 0) {
    lines.push('', `${problems.length} problem${problems.length === 1 ? '' : 's'} would stop start-up:`);
    for (const problem of problems) lines.push(`  ✗ ${problem}`);
  }
  if (warnings.length > 0) {
    lines.push('', `${warnings.length} warning${warnings.length === 1 ? '' : 's'}:`);
    for (const warning of warnings) lines.push(`  ! ${warning.message}`);
  }
  return `${lines.join('\n')}\n`;
}

function displayValue(row: EffectiveSetting): string {
  if (row.value === null) return row.defaultDoc === undefined ? '-' : `(${row.defaultDoc})`;
  if (Array.isArray(row.value)) return row.value.join(',');
  return String(row.value);
}
