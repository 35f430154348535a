import { readFileSync } from 'node:fs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { requireSetting, type ReadFile } from '../config/config.ts';
import type { SettingName, Settings } from '../config/settings.ts';
import { BridgeError } from '../errors.ts';
import { fixKafkajsRequestQueue } from '../kafka/request-queue-fix.ts';

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
  const alert = brokerAlert(all);
  if (alert !== undefined) return clientCertificateRefused(alert, config, brokers, all, error);
  const codes = chain
    .map((link) => (link as { code?: unknown }).code)
    .filter((code) => typeof code === 'string');
  const verification = brokerCertificateProblems.find(
    (row) => row.codes.some((code) => codes.includes(code)) || row.pattern.test(all),
  );
  if (verification !== undefined) {
    return new BridgeError('KAFKA_AUTH_FAILED', `${verification.message(brokers)} (${lastLine(all)})`, {
      context: {
        ...(verification.variable === undefined ? {} : { variable: verification.variable }),
        ...(verification.fix === undefined ? {} : { fix: verification.fix }),
      },
      cause: error,
    });
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

/**
 * TLS alerts a broker sends when it refuses the client's certificate (RFC 8446, section 6.2).
 * An alert in an error always comes from the peer: when the client refuses the broker's
 * certificate, Node reports a local verification error instead (the table below).
 */
interface AlertRow {
  readonly alert: number;
  readonly name: string;
  /** What is wrong with the client certificate, as the broker sees it. */
  readonly meaning: string;
}

const clientCertificateAlerts: readonly AlertRow[] = [
  { alert: 42, name: 'bad certificate', meaning: 'it is malformed or not signed by a CA the broker trusts' },
  { alert: 43, name: 'unsupported certificate', meaning: 'its type or key usage is not accepted' },
  { alert: 44, name: 'certificate revoked', meaning: 'its issuer revoked it' },
  { alert: 45, name: 'certificate expired', meaning: 'it has expired (or is not valid yet): renew it' },
  // Java (the Kafka broker) sends this for a certificate whose chain it cannot build to a CA in
  // its truststore, i.e. one signed by a CA it does not know.
  { alert: 46, name: 'certificate unknown', meaning: 'it is not signed by a CA the broker trusts' },
  { alert: 48, name: 'unknown ca', meaning: 'it is not signed by a CA the broker trusts' },
  { alert: 116, name: 'certificate required', meaning: 'the listener requires one and none was sent' },
];

function brokerAlert(text: string): AlertRow | undefined {
  const number = /SSL alert number (\d+)/i.exec(text)?.[1];
  return clientCertificateAlerts.find(
    (row) => String(row.alert) === number || new RegExp(`alert ${row.name}\\b`, 'i').test(text),
  );
}

function clientCertificateRefused(
  alert: AlertRow,
  config: Settings,
  brokers: string,
  all: string,
  cause: unknown,
): BridgeError {
  const configured = config.KAFKA_SSL_CERT_FILE !== undefined;
  const advice = configured
    ? 'check KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE, or ask the Kafka admins to trust the CA that signed it'
    : 'this listener requires mutual TLS: set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE';
  const what = configured
    ? `the client certificate (TLS alert ${alert.alert}, ${alert.name}): ${alert.meaning}`
    : `the connection (TLS alert ${alert.alert}, ${alert.name}): no client certificate is configured`;
  return new BridgeError(
    'KAFKA_AUTH_FAILED',
    `the Kafka broker at ${brokers} refused ${what}; ${advice} (${lastLine(all)})`,
    { context: { variable: 'KAFKA_SSL_CERT_FILE' }, cause },
  );
}

/**
 * Why this client refused the broker's certificate, by Node's verification code (or its
 * message). Only an untrusted issuer is fixed with a client setting; an expired certificate has
 * to be renewed on the broker, and a clock problem is fixed on a host.
 */
interface VerificationRow {
  readonly codes: readonly string[];
  readonly pattern: RegExp;
  readonly message: (brokers: string) => string;
  /** The setting to look at, when a setting is the fix. */
  readonly variable?: SettingName;
  /** What to do otherwise. */
  readonly fix?: string;
}

const brokerCertificateProblems: readonly VerificationRow[] = [
  {
    codes: ['CERT_HAS_EXPIRED'],
    pattern: /certificate has expired/i,
    message: (brokers) =>
      `the TLS certificate of the Kafka broker at ${brokers} has expired: the broker's certificate ` +
      'needs renewing (by whoever runs the brokers); no client setting fixes this, and ' +
      'KAFKA_SSL_REJECT_UNAUTHORIZED=false would only hide it',
    fix: "renew the Kafka broker's TLS certificate (the Kafka admins); nothing to change in gong-bridge",
  },
  {
    codes: ['CERT_NOT_YET_VALID'],
    pattern: /certificate is not yet valid/i,
    message: (brokers) =>
      `the TLS certificate of the Kafka broker at ${brokers} is not valid yet: the clock of this ` +
      "host or the broker's is wrong, or the certificate was issued with a future start date",
    fix: 'check the clocks (NTP) of this host and the brokers',
  },
  {
    codes: ['ERR_TLS_CERT_ALTNAME_INVALID'],
    pattern: /Hostname\/IP does not match|altnames/i,
    message: (brokers) =>
      `the TLS certificate of the Kafka broker at ${brokers} does not name that host: use the ` +
      'host name the certificate was issued for in KAFKA_BROKERS',
    variable: 'KAFKA_BROKERS',
  },
  {
    codes: [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    ],
    pattern: /certificate|self[- ]signed|unable to verify|CERT_/i,
    message: (brokers) =>
      `the TLS certificate of the Kafka broker at ${brokers} is not trusted: check KAFKA_SSL_CA_FILE ` +
      'and that the broker certificate names the host in KAFKA_BROKERS',
    variable: 'KAFKA_SSL_CA_FILE',
  },
];

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
