import { readFileSync } from 'node:fs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { requireSetting, type ReadFile } from '../config/config.ts';
import type { SettingName, Settings } from '../config/settings.ts';
import { BridgeError } from '../errors.ts';
import { fixKafkajsRequestQueue } from './request-queue-fix.ts';

export type RegistryClientOptions = ConstructorParameters<typeof SchemaRegistry>[0];

/**
 * How long kafkajs retries one request before giving up. The runtime retries KAFKA_UNAVAILABLE
 * forever on top of this, so the cap only bounds how long a single failure stays silent.
 */
const kafkaRetry = { initialRetryTime: 300, maxRetryTime: 30_000, retries: 8 } as const;

/**
 * The kafkajs client options for every command that talks to Kafka (run, doctor, replay-dlq,
 * produce-sample), so TLS and SASL behave the same everywhere. Certificate files are read here,
 * once, and a setting that cannot work (a key without a certificate, SASL without a password,
 * a CA file while TLS is off) fails start-up naming the variable instead of surfacing later as
 * an opaque handshake error, or worse, as a silent plaintext connection.
 */
export function kafkaClientConfig(
  config: Settings,
  readFile: ReadFile = (path) => readFileSync(path, 'utf8'),
): KafkaConfig {
  // Every Kafka client the bridge builds gets its options here, so this is where kafkajs' idle
  // 1 ms timer loop is switched off (request-queue-fix.ts); idempotent.
  fixKafkajsRequestQueue();
  const out: KafkaConfig = {
    brokers: requireSetting(config, 'KAFKA_BROKERS'),
    clientId: config.KAFKA_CLIENT_ID,
    connectionTimeout: config.KAFKA_CONNECTION_TIMEOUT_MS,
    // A SASL handshake against a stuck broker would otherwise wait kafkajs' own 10 s default.
    authenticationTimeout: config.KAFKA_CONNECTION_TIMEOUT_MS,
    retry: { ...kafkaRetry },
  };
  const ssl = sslOptions(config, readFile);
  if (ssl !== undefined) out.ssl = ssl;
  const sasl = saslOptions(config);
  if (sasl !== undefined) out.sasl = sasl;
  return out;
}

type TlsOptions = Exclude<KafkaConfig['ssl'], boolean | undefined>;

function sslOptions(config: Settings, readFile: ReadFile): TlsOptions | undefined {
  const files = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;
  if (!config.KAFKA_SSL) {
    const stray = files.find((name) => config[name] !== undefined);
    if (stray !== undefined) {
      throw invalid(stray, `${stray} is set but KAFKA_SSL is false; set KAFKA_SSL=true to use TLS`);
    }
    return undefined;
  }
  if ((config.KAFKA_SSL_CERT_FILE === undefined) !== (config.KAFKA_SSL_KEY_FILE === undefined)) {
    const missing = config.KAFKA_SSL_CERT_FILE === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE';
    throw invalid(missing, 'mutual TLS needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE');
  }
  const tls: TlsOptions = { rejectUnauthorized: config.KAFKA_SSL_REJECT_UNAUTHORIZED };
  // Without a CA file Node's bundled public CAs apply, which suits managed Kafka services.
  if (config.KAFKA_SSL_CA_FILE !== undefined) tls.ca = [readSetting(config, 'KAFKA_SSL_CA_FILE', readFile)];
  if (config.KAFKA_SSL_CERT_FILE !== undefined)
    tls.cert = readSetting(config, 'KAFKA_SSL_CERT_FILE', readFile);
  if (config.KAFKA_SSL_KEY_FILE !== undefined) tls.key = readSetting(config, 'KAFKA_SSL_KEY_FILE', readFile);
  return tls;
}

function saslOptions(config: Settings): SASLOptions | undefined {
  const mechanism = config.KAFKA_SASL_MECHANISM;
  if (mechanism === undefined) {
    if (config.KAFKA_SASL_USERNAME !== undefined || config.KAFKA_SASL_PASSWORD !== undefined) {
      throw invalid('KAFKA_SASL_MECHANISM', 'SASL credentials are set but KAFKA_SASL_MECHANISM is not');
    }
    return undefined;
  }
  const username = requireSetting(config, 'KAFKA_SASL_USERNAME');
  const password = requireSetting(config, 'KAFKA_SASL_PASSWORD');
  return { mechanism, username, password };
}

/** Options for `new SchemaRegistry(...)`; basic auth only when a user is configured. */
export function registryClientOptions(config: Settings): RegistryClientOptions {
  const host = requireSetting(config, 'SCHEMA_REGISTRY_URL');
  const username = config.SCHEMA_REGISTRY_USERNAME;
  const password = config.SCHEMA_REGISTRY_PASSWORD;
  if (username === undefined && password === undefined) return { host };
  if (username === undefined) {
    throw invalid(
      'SCHEMA_REGISTRY_USERNAME',
      'SCHEMA_REGISTRY_PASSWORD is set without SCHEMA_REGISTRY_USERNAME',
    );
  }
  if (password === undefined) {
    throw invalid(
      'SCHEMA_REGISTRY_PASSWORD',
      'SCHEMA_REGISTRY_USERNAME is set without SCHEMA_REGISTRY_PASSWORD',
    );
  }
  return { host, auth: { username, password } };
}

function readSetting(config: Settings, name: SettingName, readFile: ReadFile): string {
  const path = String(config[name]);
  try {
    return readFile(path);
  } catch (cause) {
    throw new BridgeError('CONFIG_INVALID', `${name}: cannot read ${path}`, {
      context: { variable: name },
      cause,
    });
  }
}

function invalid(variable: SettingName, message: string): BridgeError {
  return new BridgeError('CONFIG_INVALID', message, { context: { variable } });
}

/**
 * Turns a kafkajs connection failure into a BridgeError that says which settings to check.
 * kafkajs reports a distrusted broker certificate as a generic, retriable connection error and a
 * plaintext client on a TLS listener as "Closed connection"; on-call should not have to know
 * that. The message names the user and mechanism but never the password.
 */
export function explainKafkaError(error: unknown, config: Settings): BridgeError {
  if (error instanceof BridgeError) return error;
  const explained = classifyKafkaError(error, config);
  const password = config.KAFKA_SASL_PASSWORD;
  // Broker messages are quoted into ours; scrub the password in case one ever echoes it.
  if (password === undefined || password.length === 0 || !explained.message.includes(password))
    return explained;
  return new BridgeError(explained.code, explained.message.replaceAll(password, '[redacted]'), {
    context: explained.context,
    cause: explained.cause,
  });
}

function classifyKafkaError(error: unknown, config: Settings): BridgeError {
  const chain = errorChain(error);
  const messages = chain.map((link) => link.message);
  const names = chain.map((link) => link.name);
  const all = messages.join(' | ');
  const brokers = (config.KAFKA_BROKERS ?? []).join(',');
  if (names.includes('KafkaJSSASLAuthenticationError') || /authentication failed/i.test(all)) {
    const who = `user ${JSON.stringify(config.KAFKA_SASL_USERNAME ?? '')} with ${config.KAFKA_SASL_MECHANISM ?? 'no mechanism'}`;
    return new BridgeError(
      'KAFKA_AUTH_FAILED',
      `Kafka rejected the SASL credentials of ${who} at ${brokers}: check KAFKA_SASL_USERNAME, ` +
        `KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (${messages[0] ?? 'no detail'})`,
      { context: { variable: 'KAFKA_SASL_PASSWORD' }, cause: error },
    );
  }
  if (/alert bad certificate|alert certificate required|alert unknown ca|SSL alert number 4[28]/i.test(all)) {
    return new BridgeError(
      'KAFKA_AUTH_FAILED',
      `the Kafka broker at ${brokers} refused the client certificate (mutual TLS): check ` +
        `KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE (${lastLine(all)})`,
      { context: { variable: 'KAFKA_SSL_CERT_FILE' }, cause: error },
    );
  }
  if (/certificate|self[- ]signed|unable to verify|altname|CERT_/i.test(all)) {
    return new BridgeError(
      'KAFKA_AUTH_FAILED',
      `the TLS certificate of the Kafka broker at ${brokers} is not trusted: check KAFKA_SSL_CA_FILE ` +
        `and that the broker certificate names the host in KAFKA_BROKERS (${lastLine(all)})`,
      { context: { variable: 'KAFKA_SSL_CA_FILE' }, cause: error },
    );
  }
  if (!config.KAFKA_SSL && /closed connection/i.test(all)) {
    return new BridgeError(
      'KAFKA_UNAVAILABLE',
      `the Kafka broker at ${brokers} closed the connection; if this listener expects TLS, set ` +
        `KAFKA_SSL=true (${lastLine(all)})`,
      { context: { variable: 'KAFKA_SSL' }, cause: error },
    );
  }
  if (config.KAFKA_SSL && /before secure TLS connection was established|wrong version number/i.test(all)) {
    return new BridgeError(
      'KAFKA_UNAVAILABLE',
      `the Kafka broker at ${brokers} did not complete a TLS handshake; if this listener is not ` +
        `TLS, set KAFKA_SSL=false (${lastLine(all)})`,
      { context: { variable: 'KAFKA_SSL' }, cause: error },
    );
  }
  return new BridgeError(
    'KAFKA_UNAVAILABLE',
    `Kafka at ${brokers} is unavailable: ${messages[0] ?? String(error)}`,
    {
      cause: error,
    },
  );
}

/** kafkajs nests the real reason in `cause` or `originalError` depending on the path. */
function errorChain(error: unknown): Error[] {
  const out: Error[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    out.push(current);
    const next = current as Error & { originalError?: unknown };
    current = next.cause ?? next.originalError;
  }
  return out;
}

function lastLine(text: string): string {
  const lines = text.split(/[\n|]/).map((line) => line.trim());
  return lines.filter((line) => line.length > 0).at(-1) ?? text;
}
