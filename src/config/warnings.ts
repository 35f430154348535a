import { knownEnvironmentNames, type Env } from './config.ts';
import { nearestName } from './nearest-name.ts';
import type { Settings } from './settings.ts';

/**
 * Settings that parse but are probably not what the operator meant: a misspelt variable, which
 * would otherwise be silently ignored, and settings that weaken security. Commands print them at
 * start-up (run as log lines) and doctor lists them; none stops the bridge.
 */
export interface ConfigWarning {
  readonly variable: string;
  readonly message: string;
}

/** Variables under these prefixes are ours; an unknown one is most likely a typo. */
export const settingPrefixes = ['GONG_', 'KAFKA_', 'SCHEMA_REGISTRY_', 'REDIS_', 'LOG_', 'MAX_'] as const;

/**
 * Names under our prefixes that are not settings but are expected in the environment: those
 * Kubernetes injects for every Service in the namespace (a Service named `kafka` or `redis`
 * gives KAFKA_PORT, KAFKA_SERVICE_HOST, KAFKA_PORT_9092_TCP_ADDR...), and the knobs of this
 * repository's own scripts (Makefile, scripts/stack), which `make demo` runs beside the bridge.
 */
const serviceLinkPattern =
  /_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?|PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)?)$/;
const toolingVariables = new Set(['KAFKA_LINE', 'KAFKA_VERSION', 'KAFKA_PROXIED_BROKERS']);

/**
 * Well-known names from other Kafka tools that are not near ours in spelling; everything else
 * is matched by edit distance.
 */
const aliases: Readonly<Record<string, string>> = {
  KAFKA_BOOTSTRAP_SERVERS: 'KAFKA_BROKERS',
  KAFKA_BOOTSTRAP_SERVER: 'KAFKA_BROKERS',
  KAFKA_GROUP: 'KAFKA_GROUP_ID',
  KAFKA_CONSUMER_GROUP: 'KAFKA_GROUP_ID',
  SCHEMA_REGISTRY_HOST: 'SCHEMA_REGISTRY_URL',
  REDIS_HOST: 'REDIS_URL',
};

export function unknownVariableWarnings(env: Env): ConfigWarning[] {
  const known = knownEnvironmentNames();
  const knownSet = new Set(known);
  const warnings: ConfigWarning[] = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || !settingPrefixes.some((prefix) => name.startsWith(prefix))) continue;
    if (serviceLinkPattern.test(name) || toolingVariables.has(name)) continue;
    const suggestion = aliases[name] ?? nearestName(name, known);
    warnings.push({
      variable: name,
      message:
        suggestion === undefined
          ? `${name} is not a gong-bridge setting and is ignored (see docs/reference/configuration.md)`
          : `${name} is not a gong-bridge setting and is ignored; did you mean ${suggestion}?`,
    });
  }
  return warnings;
}

/** Settings that work but weaken security; each message says what it costs. */
export function insecureSettingWarnings(
  config: Pick<Settings, 'KAFKA_SSL' | 'KAFKA_SSL_REJECT_UNAUTHORIZED' | 'KAFKA_SASL_MECHANISM'>,
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  if (config.KAFKA_SSL && !config.KAFKA_SSL_REJECT_UNAUTHORIZED) {
    warnings.push({
      variable: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
      message:
        'KAFKA_SSL_REJECT_UNAUTHORIZED=false: the Kafka broker certificate is not verified, so anyone ' +
        'on the network path can pose as the broker; use it only to diagnose, and set KAFKA_SSL_CA_FILE instead',
    });
  }
  if (config.KAFKA_SASL_MECHANISM === 'plain' && !config.KAFKA_SSL) {
    warnings.push({
      variable: 'KAFKA_SASL_MECHANISM',
      message:
        'KAFKA_SASL_MECHANISM=plain without KAFKA_SSL=true sends the Kafka password in clear text; ' +
        'enable TLS or use scram-sha-512',
    });
  }
  return warnings;
}

/** Both kinds, unknown variables first; `config` is absent when it did not parse. */
export function configWarnings(env: Env, config?: Settings): ConfigWarning[] {
  return [...unknownVariableWarnings(env), ...(config === undefined ? [] : insecureSettingWarnings(config))];
}
