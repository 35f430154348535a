import { readFileSync } from 'node:fs';
import { loadConfig, settingSource, type Env, type ReadFile, type SettingSource } from './config.ts';
import { maskUrlValue, urlSettingNames } from './redact.ts';
import { settingNames, settings, type SettingName, type SettingSpec, type Settings } from './settings.ts';
import { configWarnings, type ConfigWarning } from './warnings.ts';

/**
 * The configuration in force, setting by setting, for `gong-bridge config`: the value the bridge
 * would use, where it came from, and what is wrong with it. Secrets show only whether they are
 * set; URLs show without their credentials.
 */
export interface EffectiveSetting {
  readonly name: SettingName;
  readonly group: SettingSpec['group'];
  /** As the bridge would use it; null when unset. Secrets are '[redacted]'. */
  readonly value: string | number | boolean | readonly string[] | null;
  readonly source: SettingSource;
  /** The variable the value was read from, when not the setting's own name (a `_FILE`). */
  readonly from?: string;
  /** What the default is when it is computed (e.g. `<first input topic>.dlq`). */
  readonly defaultDoc?: string;
  readonly secret: boolean;
  /** Why the value does not parse; the value is then the raw text. */
  readonly problem?: string;
}

export interface EffectiveConfiguration {
  readonly settings: readonly EffectiveSetting[];
  /** Problems that stop start-up, every one of them (loadConfig's message lines). */
  readonly problems: readonly string[];
  readonly warnings: readonly ConfigWarning[];
}

export const redactedValue = '[redacted]';

export function effectiveConfiguration(
  env: Env,
  readFile: ReadFile = (path) => readFileSync(path, 'utf8'),
): EffectiveConfiguration {
  let config: Settings | undefined;
  let problems: readonly string[] = [];
  try {
    config = loadConfig(env, { readFile });
  } catch (error) {
    const details = (error as { context?: { details?: readonly string[] } }).context?.details;
    problems = details ?? [error instanceof Error ? error.message : String(error)];
  }
  const rows = settingNames.map((name): EffectiveSetting => {
    const spec = settings[name] as SettingSpec;
    const source = settingSource(env, name);
    const secret = spec.secret === true;
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = spec.schema.safeParse(source === 'file' ? undefined : raw);
    const problem = problems.find((line) => line.startsWith(`${name}:`) || line.startsWith(`${name} `));
    const value: EffectiveSetting['value'] =
      config !== undefined
        ? ((config[name] as EffectiveSetting['value'] | undefined) ?? null)
        : parsed.success
          ? ((parsed.data as EffectiveSetting['value'] | undefined) ?? null)
          : (raw ?? null);
    return {
      name,
      group: spec.group,
      value: shown(
        name,
        secret,
        problem !== undefined,
        source === 'file' && value === null ? redactedValue : value,
      ),
      source,
      ...(source === 'file' ? { from: `${name}_FILE` } : {}),
      ...(spec.defaultDoc !== undefined && value === null ? { defaultDoc: spec.defaultDoc } : {}),
      secret,
      ...(problem === undefined ? {} : { problem }),
    };
  });
  // The security warnings read single settings, so they apply even when another one is invalid.
  const parsedAlone = Object.fromEntries(
    settingNames.map((name) => [name, settings[name].schema.safeParse(env[name] || undefined).data]),
  ) as Settings;
  return { settings: rows, problems, warnings: configWarnings(env, config ?? parsedAlone) };
}

function shown(
  name: SettingName,
  secret: boolean,
  invalid: boolean,
  value: EffectiveSetting['value'],
): EffectiveSetting['value'] {
  if (value === null) return null;
  // A URL keeps its host and path (what an operator checks) and loses its userinfo; a secret
  // that is not a parsed URL shows only that it is set.
  if (urlSettingNames.includes(name) && typeof value === 'string' && !(secret && invalid))
    return maskUrlValue(value);
  if (secret) return redactedValue;
  return value;
}
