import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { urlCredentialValues, urlSettingNames } from '../config/redact.ts';
import { secretSettingNames, type Settings } from '../config/settings.ts';

/**
 * The pino JSON logger. Secrets are removed twice, because either way alone leaks:
 *  - by path (pino's redact): known places such as an Authorization header or a config object,
 *    whatever their value;
 *  - by value, on the finished line: a secret can turn up anywhere a path cannot predict, such as
 *    inside an error message ("connect to redis://:hunter2@redis failed"), a stack, or a nested
 *    `cause`. The values come from the settings flagged `secret` plus the forms they take on the
 *    wire (the Basic auth pair in base64, a URL's percent-encoded password).
 * Both apply at every level, trace included.
 */

export const redactedText = '[REDACTED]';

// Below this length a value would match ordinary text (and digits inside numbers, which would
// break the JSON line); such secrets are still redacted by path.
const minSecretLength = 4;

const credentialKeys = [
  'authorization',
  'Authorization',
  'password',
  'passwd',
  'secret',
  'token',
  'accessKey',
  'accessKeySecret',
  'bearerToken',
  'apiKey',
  'cookie',
  'Cookie',
  'set-cookie',
];

function atDepths(keys: readonly string[], prefixes: readonly string[]): string[] {
  return keys.flatMap((key) => prefixes.map((prefix) => `${prefix}${key}`));
}

// fast-redact wildcards match one level each; three levels reach headers inside request objects
// and the config objects handed to clients, which is where credentials sit in practice.
const depthPrefixes = ['', '*.', '*.*.', '*.*.*.'];

export const secretPaths: readonly string[] = [
  ...atDepths(credentialKeys, depthPrefixes),
  ...atDepths([...secretSettingNames], ['', '*.']),
  ...atDepths(['sasl.password', 'headers.authorization', 'headers.Authorization'], ['', '*.', '*.*.']),
];

export const piiPaths: readonly string[] = [
  ...atDepths(['person.name', 'person.email', 'person.phoneNumber'], ['', '*.', '*.*.']),
  ...atDepths(['email', 'phoneNumber', 'emailAddress'], ['', '*.', '*.*.']),
];

type SecretConfig = Partial<Pick<Settings, (typeof secretSettingNames)[number]>> &
  Partial<
    Pick<
      Settings,
      'SCHEMA_REGISTRY_USERNAME' | 'KAFKA_SASL_USERNAME' | 'SCHEMA_REGISTRY_URL' | 'GONG_BASE_URL'
    >
  >;

/** Every string that would give a secret away, in the forms it may take inside a JSON log line. */
export function secretValues(config: SecretConfig, extra: readonly string[] = []): string[] {
  const raw = new Set<string>();
  const add = (value: string | undefined) => {
    if (value !== undefined && value.length >= minSecretLength) raw.add(value);
  };
  for (const name of secretSettingNames) {
    const value = (config as Record<string, unknown>)[name];
    if (typeof value === 'string') add(value);
  }
  for (const value of extra) add(value);
  const basic = (user: string | undefined, password: string | undefined) => {
    if (user !== undefined && password !== undefined)
      add(Buffer.from(`${user}:${password}`).toString('base64'));
  };
  basic(config.GONG_ACCESS_KEY, config.GONG_ACCESS_KEY_SECRET);
  basic(config.SCHEMA_REGISTRY_USERNAME, config.SCHEMA_REGISTRY_PASSWORD);
  basic(config.KAFKA_SASL_USERNAME, config.KAFKA_SASL_PASSWORD);
  // Credentials inside any URL setting, not only the secret REDIS_URL: a registry or Gong URL
  // with user:password in it is used as given, so its password is as secret as any other.
  for (const name of urlSettingNames) {
    const url = (config as Record<string, unknown>)[name];
    if (typeof url === 'string') for (const value of urlCredentialValues(url)) add(value);
  }
  const forms = new Set<string>();
  for (const value of raw) {
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(encodeURIComponent(value));
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...forms].filter((form) => form.length >= minSecretLength).sort((a, b) => b.length - a.length);
}

/** Replaces every listed value in a finished line; identity when there is nothing to hide. */
export function valueRedactor(values: readonly string[]): (line: string) => string {
  if (values.length === 0) return (line) => line;
  const pattern = new RegExp(
    values.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
    'g',
  );
  return (line) => line.replace(pattern, redactedText);
}

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  readonly config: SecretConfig & Pick<Settings, 'LOG_LEVEL' | 'LOG_REDACT_PII'>;
  /** Default: stdout, synchronously (a crash must not lose its last lines). */
  readonly destination?: DestinationStream;
  /** json (default) or pretty; `chooseLogFormat` resolves LOG_FORMAT=auto. */
  readonly format?: LogFormat;
  /** ANSI colours in pretty lines; default false. */
  readonly colour?: boolean;
  /** Secrets that are not settings, such as a bearer token read from a file. */
  readonly extraSecrets?: readonly string[];
  readonly base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const { config } = options;
  const redactValues = valueRedactor(secretValues(config, options.extraSecrets));
  const paths = [...secretPaths, ...(config.LOG_REDACT_PII ? piiPaths : [])];
  const settings = {
    level: config.LOG_LEVEL,
    base: { service: 'gong-bridge', ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths, censor: redactedText },
    hooks: { streamWrite: redactValues },
  };
  if (options.format === 'pretty') return pino(settings, prettyStream(options));
  return options.destination === undefined
    ? pino(settings, pino.destination({ dest: 1, sync: true }))
    : pino(settings, options.destination);
}

/**
 * Human-readable lines for a terminal: time, level, component and message, then the event's
 * fields on the same line. It reads the finished JSON line, so both redactions have already run.
 */
function prettyStream(options: LoggerOptions): DestinationStream {
  return pinoPretty({
    destination: options.destination ?? 1,
    sync: true,
    colorize: options.colour === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,component',
    messageFormat: '{if component}{component}: {end}{msg}',
    singleLine: true,
  });
}

export interface LogFormatContext {
  /** Whether stdout is a terminal. */
  readonly isTerminal: boolean;
  /** Whether the process runs in a container (see `runsInContainer`). */
  readonly inContainer: boolean;
}

/**
 * LOG_FORMAT=auto means pretty only for a person at a terminal: a pipe, a file or a container
 * runtime (whose log collector expects one JSON object per line even when it allocates a TTY)
 * gets JSON.
 */
export function chooseLogFormat(setting: 'auto' | LogFormat, context: LogFormatContext): LogFormat {
  if (setting !== 'auto') return setting;
  return context.isTerminal && !context.inContainer ? 'pretty' : 'json';
}

/**
 * Kubernetes sets KUBERNETES_SERVICE_HOST in every pod; Docker leaves /.dockerenv and Podman
 * /run/.containerenv (and sets `container`).
 */
export function runsInContainer(
  env: Readonly<Record<string, string | undefined>>,
  fileExists: (path: string) => boolean,
): boolean {
  if ((env.KUBERNETES_SERVICE_HOST ?? '') !== '' || (env.container ?? '') !== '') return true;
  return fileExists('/.dockerenv') || fileExists('/run/.containerenv');
}
