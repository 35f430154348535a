import { z } from 'zod';
import { settingGroupTitles as groupTitles, type SettingSpec } from '../../src/config/settings.ts';
import { generatedBanner, mdCell, type Rendered } from './markdown.ts';

type JsonSchema = Record<string, unknown>;

/**
 * The configuration reference, rendered from the settings catalogue. Types and defaults are read
 * from each setting's zod schema, not restated, so a changed default or limit shows up here on the
 * next `npm run docs:gen` and the drift test catches a forgotten run.
 */
export function renderConfiguration(catalogue: Readonly<Record<string, SettingSpec>>): Rendered {
  const problems: string[] = [];
  const lines = [
    generatedBanner('src/config/settings.ts'),
    '# Configuration reference',
    '',
    'gong-bridge reads only environment variables. An empty value counts as unset. A setting marked',
    '*secret* may instead be given as `<NAME>_FILE`, the path of a file holding the value (how',
    'Kubernetes mounts secrets); setting both is an error, and secrets never appear in logs or error',
    'messages. A bad value stops start-up with a message naming the variable (exit code 3).',
    '`gong-bridge doctor` checks a whole configuration against the real services.',
    '',
  ];
  const names = Object.keys(catalogue);
  for (const group of Object.keys(groupTitles) as SettingSpec['group'][]) {
    const inGroup = names.filter((name) => catalogue[name]?.group === group);
    if (inGroup.length === 0) continue;
    lines.push(
      `## ${groupTitles[group]}`,
      '',
      '| Variable | Type | Default | Description |',
      '| --- | --- | --- | --- |',
    );
    for (const name of inGroup) {
      const spec = catalogue[name]!;
      if (spec.doc.trim() === '') problems.push(`setting ${name} has no doc in src/config/settings.ts`);
      const secret = spec.secret === true ? ` *Secret; or \`${name}_FILE\`.*` : '';
      lines.push(
        `| \`${name}\` | ${mdCell(describeType(spec.schema))} | ${mdCell(describeDefault(spec))} | ${mdCell(spec.doc)}${secret} |`,
      );
    }
    lines.push('');
  }
  const unknownGroups = names.filter((name) => !(catalogue[name]!.group in groupTitles));
  for (const name of unknownGroups) problems.push(`setting ${name} has a group the reference does not know`);
  return { content: `${lines.join('\n').trimEnd()}\n`, problems };
}

const boolWords = ['0', '1', 'true', 'false', 'yes', 'no'];

export function describeType(schema: z.ZodType): string {
  const input = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const output = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  const choices = Array.isArray(input.enum) ? (input.enum as string[]) : undefined;
  if (output.type === 'array') return 'list, comma-separated';
  if (
    choices !== undefined &&
    choices.length === boolWords.length &&
    boolWords.every((w) => choices.includes(w))
  )
    return 'boolean (`true`/`false`, `1`/`0`, `yes`/`no`)';
  if (choices !== undefined) return `one of ${choices.map((choice) => `\`${choice}\``).join(', ')}`;
  if (input.format === 'uri') return 'URL';
  if (input.type === 'integer' || input.type === 'number') {
    const kind = input.type === 'integer' ? 'integer' : 'number';
    const min = typeof input.minimum === 'number' ? input.minimum : undefined;
    const max =
      typeof input.maximum === 'number' && input.maximum !== Number.MAX_SAFE_INTEGER
        ? input.maximum
        : undefined;
    if (min !== undefined && max !== undefined) return `${kind}, ${min} to ${max}`;
    if (min !== undefined) return `${kind} ≥ ${min}`;
    return kind;
  }
  return 'string';
}

function describeDefault(spec: SettingSpec): string {
  if (spec.defaultDoc !== undefined) return `\`${spec.defaultDoc}\``;
  const parsed = spec.schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return '(unset)';
  const value: unknown = parsed.data;
  if (Array.isArray(value)) return `\`${value.join(',')}\``;
  return `\`${String(value)}\``;
}
