import type { Settings } from '../config/settings.ts';
import { BridgeError } from '../errors.ts';
import type { GongAuth, GongClientOptions } from '../gong/client.ts';
import type { Clock } from '../shared/time.ts';

/**
 * The Gong client's options, from the settings: the commands that call Gong (run, send,
 * replay-dlq, doctor) build them here once, and the client itself never sees a setting.
 */

/** Builds client options from the parsed configuration; flags may override the base URL. */
export function gongClientOptionsFromConfig(
  config: Settings,
  clock: Clock,
  overrides: { baseUrl?: string } = {},
): GongClientOptions {
  return {
    baseUrl: overrides.baseUrl ?? config.GONG_BASE_URL,
    auth: authFromConfig(config),
    connectTimeoutMs: config.GONG_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.GONG_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: config.GONG_BODY_TIMEOUT_MS,
    maxConnections: config.GONG_MAX_CONNECTIONS,
    clock,
  };
}

export function authFromConfig(config: Settings): GongAuth {
  const basic = config.GONG_ACCESS_KEY !== undefined || config.GONG_ACCESS_KEY_SECRET !== undefined;
  const bearer = config.GONG_BEARER_TOKEN !== undefined || config.GONG_BEARER_TOKEN_FILE !== undefined;
  if (basic && bearer) {
    throw new BridgeError(
      'CONFIG_INVALID',
      'set either GONG_ACCESS_KEY/GONG_ACCESS_KEY_SECRET or a bearer token, not both',
      {
        context: { variable: 'GONG_BEARER_TOKEN' },
      },
    );
  }
  if (basic) {
    if (config.GONG_ACCESS_KEY === undefined || config.GONG_ACCESS_KEY_SECRET === undefined) {
      const missing = config.GONG_ACCESS_KEY === undefined ? 'GONG_ACCESS_KEY' : 'GONG_ACCESS_KEY_SECRET';
      throw new BridgeError('CONFIG_INVALID', `${missing} is required with Basic auth but is not set`, {
        context: { variable: missing },
      });
    }
    return {
      kind: 'basic',
      accessKey: config.GONG_ACCESS_KEY,
      accessKeySecret: config.GONG_ACCESS_KEY_SECRET,
    };
  }
  // loadConfig treats GONG_BEARER_TOKEN_FILE as the _FILE form of the secret, so GONG_BEARER_TOKEN
  // then holds the file's contents at start-up (both set by hand is refused there). The file
  // wins: re-reading it is what makes rotation work without a restart.
  if (config.GONG_BEARER_TOKEN_FILE !== undefined)
    return { kind: 'bearer-file', path: config.GONG_BEARER_TOKEN_FILE };
  if (config.GONG_BEARER_TOKEN !== undefined) return { kind: 'bearer', token: config.GONG_BEARER_TOKEN };
  throw new BridgeError(
    'CONFIG_INVALID',
    'Gong credentials are required: GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_BEARER_TOKEN(_FILE)',
    { context: { variable: 'GONG_ACCESS_KEY' } },
  );
}
