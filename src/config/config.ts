import { readFileSync } from 'node:fs';
import { BridgeError } from '../errors.ts';
import { secretSettingNames, settingNames, settings, type SettingName, type Settings } from './settings.ts';

export type Env = Readonly<Record<string, string | undefined>>;
export type ReadFile = (path: string) => string;

/**
 * Parses the environment once into a typed, frozen object. Empty strings count as unset, as
 * they do for most twelve-factor services. A `<SECRET>_FILE` variable is read instead of the
 * value itself. The first bad setting fails start-up with an error naming the variable.
 */
export function loadConfig(env: Env, readFile: ReadFile = (path) => readFileSync(path, 'utf8')): Settings {
  const raw = resolveFileSecrets(env, readFile);
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of settingNames) {
    const value = raw[name];
    const parsed = settings[name].schema.safeParse(value === '' ? undefined : value);
    if (parsed.success) {
      out[name] = parsed.data;
    } else {
      const message = parsed.error.issues.map((issue) => issue.message).join('; ');
      problems.push(`${name}: ${message}${describeValue(name, value)}`);
    }
  }
  if (problems.length > 0) {
    throw new BridgeError('CONFIG_INVALID', `invalid configuration: ${problems.join(', ')}`, {
      context: { variable: problems[0]?.split(':')[0] ?? '', details: problems },
    });
  }
  return Object.freeze(out) as Settings;
}

function describeValue(name: SettingName, value: string | undefined): string {
  if (value === undefined) return ' (not set)';
  return secretSettingNames.includes(name) ? ' (value hidden)' : ` (got ${JSON.stringify(value)})`;
}

function resolveFileSecrets(env: Env, readFile: ReadFile): Record<string, string | undefined> {
  const raw: Record<string, string | undefined> = { ...env };
  for (const name of secretSettingNames) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      throw new BridgeError('CONFIG_INVALID', `${name} and ${name}_FILE are both set; set only one`, {
        context: { variable: name },
      });
    }
    try {
      raw[name] = readFile(file).trim();
    } catch (cause) {
      throw new BridgeError('CONFIG_INVALID', `${name}_FILE: cannot read ${file}`, {
        context: { variable: `${name}_FILE` },
        cause,
      });
    }
  }
  return raw;
}

/** Narrows an optional setting that a command needs, failing with the variable's name. */
export function requireSetting<K extends SettingName>(config: Settings, name: K): NonNullable<Settings[K]> {
  const value = config[name];
  if (value === undefined || value === null) {
    throw new BridgeError('CONFIG_INVALID', `${name} is required for this command but is not set`, {
      context: { variable: name },
    });
  }
  return value as NonNullable<Settings[K]>;
}

/** Every variable name the app reads, including the `_FILE` forms of secrets. */
export function knownEnvironmentNames(): string[] {
  return [...settingNames, ...secretSettingNames.map((name) => `${name}_FILE`)];
}
