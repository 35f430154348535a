/**
 * Writes the `config` and `secret.values` parts of helm/gong-bridge/values.schema.json from the
 * settings catalogue (src/config/settings.ts), so the chart accepts exactly the settings the
 * bridge reads, with the bridge's own types and limits, and a new setting needs no hand edit.
 *
 * Usage: node scripts/helm-values-schema.ts [--check]
 * --check exits 1 when the file is not what would be written. `bash scripts/helm.sh sync` runs
 * this, `bash scripts/helm.sh check` runs it with --check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { knownEnvironmentNames } from '../src/config/config.ts';
import { secretSettingNames, settings, type SettingSpec } from '../src/config/settings.ts';

export const valuesSchemaPath = join(
  resolve(import.meta.dirname, '..'),
  'helm/gong-bridge/values.schema.json',
);

/** Settings the chart sets from other values rather than from `config`, with the value that sets it. */
export const chartManagedSettings: Readonly<Record<string, string>> = { HTTP_PORT: 'http.port' };

type JsonSchema = Record<string, unknown>;

const boolWords = ['0', '1', 'true', 'false', 'yes', 'no'];

/**
 * One setting as a values schema. Values files are YAML, so besides the string the bridge reads
 * from its environment the chart also takes the natural YAML form (number, boolean, list), which
 * the templates render back to that string. An empty string means unset, as it does to the bridge.
 */
function settingSchema(spec: SettingSpec): JsonSchema {
  const input = z.toJSONSchema(spec.schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const output = z.toJSONSchema(spec.schema, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  const description = spec.doc;
  if (output.type === 'array') return { description, $ref: '#/$defs/csv' };
  if (
    Array.isArray(input.enum) &&
    input.enum.length === boolWords.length &&
    boolWords.every((w) => (input.enum as string[]).includes(w))
  ) {
    return { description, $ref: '#/$defs/bool' };
  }
  if (input.format === 'uri') return { description, $ref: '#/$defs/url' };
  const schema: JsonSchema = { description };
  for (const [key, value] of Object.entries(input)) {
    // $schema and default are noise here: the bridge applies its defaults itself. The safe-integer
    // ceiling zod adds to every int says nothing a reader needs.
    if (key === '$schema' || key === 'default') continue;
    if (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) continue;
    schema[key] = value;
  }
  if (Array.isArray(schema.enum)) schema.enum = ['', ...(schema.enum as string[])];
  return schema;
}

export function configProperties(): Record<string, JsonSchema> {
  const specs = settings as Record<string, SettingSpec>;
  const secrets = new Set<string>(secretSettingNames);
  const properties: Record<string, JsonSchema> = {};
  for (const name of new Set(knownEnvironmentNames())) {
    if (secrets.has(name) || name in chartManagedSettings) continue;
    const spec = specs[name];
    properties[name] =
      spec !== undefined
        ? settingSchema(spec)
        : {
            description: `File holding ${name.replace(/_FILE$/, '')} (mounted with extraVolumes).`,
            type: 'string',
          };
  }
  return properties;
}

export function secretProperties(): Record<string, JsonSchema> {
  const specs = settings as Record<string, SettingSpec>;
  return Object.fromEntries(
    secretSettingNames.map((name) => [name, { description: specs[name]?.doc ?? '', type: 'string' }]),
  );
}

/** The schema file's text with the derived parts replaced; everything else is kept as written. */
export function renderValuesSchema(current: string): string {
  const schema = JSON.parse(current) as {
    properties: { config: JsonSchema; secret: { properties: { values: JsonSchema } } };
  };
  schema.properties.config.properties = configProperties();
  schema.properties.secret.properties.values.properties = secretProperties();
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (import.meta.main) {
  const current = readFileSync(valuesSchemaPath, 'utf8');
  const next = renderValuesSchema(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write(
        'helm/gong-bridge/values.schema.json is out of date with src/config/settings.ts: run `bash scripts/helm.sh sync`\n',
      );
      process.exit(1);
    }
  } else if (next !== current) {
    writeFileSync(valuesSchemaPath, next);
    process.stderr.write('updated helm/gong-bridge/values.schema.json from src/config/settings.ts\n');
  }
}
