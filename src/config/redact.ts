import { z } from 'zod';
import { settingNames, settings, type SettingName } from './settings.ts';

/**
 * Credentials inside URLs. Any URL setting may carry them (`http://user:pw@registry/...`,
 * `redis://:pw@redis:6379`), and the bridge uses them, so every output that shows a URL (doctor,
 * `gong-bridge config`, `status`, error messages, logs) masks the userinfo part first.
 */

export const maskedUserinfo = '***';

// scheme://userinfo@ ; userinfo stops at the first character a host part cannot follow.
const userinfoPattern = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>]+)@/gi;

/** Replaces the userinfo of every URL in `text` with ***, leaving scheme, host and path. */
export function maskUrlCredentials(text: string): string {
  return text.replace(userinfoPattern, `$1${maskedUserinfo}@`);
}

/**
 * One setting's value that should be a URL but may not parse as one (`//user:pw@registry:8081`):
 * whatever precedes its last `@` is masked, keeping a scheme.
 */
export function maskUrlValue(value: string): string {
  // Everything up to the last @ goes: over-masking a path that holds an @ is the safe mistake.
  return value.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?.*@/i, `$1${maskedUserinfo}@`);
}

/** The settings whose value is a URL, read from their schemas so a new one is covered. */
export const urlSettingNames: readonly SettingName[] = settingNames.filter((name) => {
  const schema = z.toJSONSchema(settings[name].schema, { io: 'input', unrepresentable: 'any' });
  return (schema as { format?: unknown }).format === 'uri';
});

/**
 * The strings that would give a URL's credentials away, raw and percent-decoded: the password,
 * the whole userinfo, and a lone user name, which in `https://token@host` is the secret itself.
 */
export function urlCredentialValues(url: string | undefined): string[] {
  if (url === undefined) return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const values: string[] = [];
  const add = (value: string) => {
    if (value === '') return;
    values.push(value);
    try {
      values.push(decodeURIComponent(value));
    } catch {
      // Malformed percent-encoding: the raw form is listed already.
    }
  };
  add(parsed.password);
  if (parsed.password !== '') add(`${parsed.username}:${parsed.password}`);
  else add(parsed.username);
  return [...new Set(values)];
}
