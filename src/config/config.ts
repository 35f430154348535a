import { readFileSync } from 'node:fs';
import { BridgeError, isBridgeError } from '../errors.ts';
import { maskUrlValue, urlSettingNames } from './redact.ts';
import {
  secretSettingNames,
  settingNames,
  settings,
  type SettingName,
  type SettingSpec,
  type Settings,
} from './settings.ts';

export type Env = Readonly<Record<string, string | undefined>>;
export type ReadFile = (path: string) => string;

/**
 * A check a command needs beyond parsing, such as "KAFKA_TOPICS is set" or "the TLS files go
 * together": it throws a CONFIG_INVALID BridgeError naming the variable. loadConfig runs every
 * check and reports all their problems together with the parse errors.
 */
export type ConfigCheck = (config: Settings) => unknown;

export interface LoadConfigOptions {
  readonly readFile?: ReadFile;
  /** What the command needs; each failure is listed, not just the first (issue 15). */
  readonly checks?: readonly ConfigCheck[];
}

/**
 * Parses the environment once into a typed, frozen object. Empty strings count as unset, as
 * they do for most twelve-factor services. A `<SECRET>_FILE` variable is read instead of the
 * value itself. Every problem, a bad value or a missing setting the command needs, is reported
 * in one error, so fixing a configuration takes one run rather than one run per variable.
 */
export function loadConfig(env: Env, options: LoadConfigOptions | ReadFile = {}): Settings {
  const { readFile = (path: string) => readFileSync(path, 'utf8'), checks = [] } =
    typeof options === 'function' ? { readFile: options } : options;
  const problems: Problem[] = [];
  const raw = resolveFileSecrets(env, readFile, problems);
  const out: Record<string, unknown> = {};
  for (const name of settingNames) {
    if (problems.some((problem) => problem.variable === name)) continue;
    const value = raw[name];
    const parsed = settings[name].schema.safeParse(value === '' ? undefined : value);
    if (parsed.success) {
      out[name] = parsed.data;
    } else {
      const message = parsed.error.issues.map((issue) => issue.message).join('; ');
      problems.push({ variable: name, message: `${name}: ${message}${describeValue(name, value)}` });
    }
  }
  const config = Object.freeze(out) as Settings;
  for (const check of checks) {
    try {
      check(config);
    } catch (error) {
      // A check reads the parsed values; one that trips over a value already reported as
      // malformed adds nothing.
      if (!isBridgeError(error) || error.code !== 'CONFIG_INVALID') {
        if (problems.length > 0) continue;
        throw error;
      }
      const variable = error.context.variable;
      if (problems.some((problem) => problem.variable === variable && variable !== undefined)) continue;
      problems.push({ variable, message: error.message });
    }
  }
  if (problems.length > 0) throw configError(problems);
  return config;
}

interface Problem {
  readonly variable: string | undefined;
  readonly message: string;
}

function configError(problems: readonly Problem[]): BridgeError {
  const details = problems.map((problem) => problem.message);
  const message =
    problems.length === 1
      ? `invalid configuration: ${details[0]}`
      : `invalid configuration, ${problems.length} problems:\n${details.map((line) => `  - ${line}`).join('\n')}`;
  return new BridgeError('CONFIG_INVALID', message, {
    context: {
      variable: problems.find((problem) => problem.variable !== undefined)?.variable ?? '',
      details,
    },
  });
}

function describeValue(name: SettingName, value: string | undefined): string {
  if (value === undefined) return ' (not set)';
  if (secretSettingNames.includes(name)) return ' (value hidden)';
  return ` (got ${JSON.stringify(urlSettingNames.includes(name) ? maskUrlValue(value) : value)})`;
}

function resolveFileSecrets(
  env: Env,
  readFile: ReadFile,
  problems: Problem[],
): Record<string, string | undefined> {
  const raw: Record<string, string | undefined> = { ...env };
  for (const name of secretSettingNames) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push({ variable: name, message: `${name} and ${name}_FILE are both set; set only one` });
      continue;
    }
    try {
      raw[name] = readFile(file).trim();
    } catch {
      problems.push({ variable: name, message: `${name}_FILE: cannot read ${file}` });
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

/** A ConfigCheck for settings a command cannot do without. */
export function required(...names: SettingName[]): ConfigCheck[] {
  return names.map((name) => (config: Settings) => requireSetting(config, name));
}

/** Every variable name the app reads, including the `_FILE` forms of secrets. */
export function knownEnvironmentNames(): string[] {
  return [...settingNames, ...secretSettingNames.map((name) => `${name}_FILE`)];
}

/** Where a setting's value came from, for `gong-bridge config`. */
export type SettingSource = 'environment' | 'file' | 'default' | 'unset';

export function settingSource(env: Env, name: SettingName): SettingSource {
  if (secretSettingNames.includes(name) && (env[`${name}_FILE`] ?? '') !== '') return 'file';
  if ((env[name] ?? '') !== '') return 'environment';
  const spec: SettingSpec = settings[name];
  const hasDefault = spec.defaultDoc !== undefined || spec.schema.safeParse(undefined).data !== undefined;
  return hasDefault ? 'default' : 'unset';
}
