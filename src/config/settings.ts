import { z } from 'zod';
import { inputFormatNames } from '../decode/formats/names.ts';
import { inferredRuleModes, inferredRuleNames, type InferredRuleName } from '../gong/rule-catalogue.ts';

/**
 * The single catalogue of environment variables gong-bridge reads. Every entry carries its doc,
 * so the configuration reference, the Helm chart test and compose checks are derived from here
 * rather than from hand-kept lists. `secret` entries also accept `<NAME>_FILE`, the way
 * Kubernetes mounts secrets, and are redacted from logs.
 */
export interface SettingSpec {
  readonly schema: z.ZodType;
  readonly doc: string;
  readonly group: 'kafka' | 'registry' | 'gong' | 'limiter' | 'redis' | 'runtime' | 'observability';
  readonly secret?: boolean;
  /** Shown in docs when the default is computed rather than literal. */
  readonly defaultDoc?: string;
}

/** Section titles, in the order the reference and `gong-bridge config` list the groups. */
export const settingGroupTitles: Readonly<Record<SettingSpec['group'], string>> = {
  kafka: 'Kafka',
  registry: 'Schema registry',
  gong: 'Gong API',
  limiter: 'Rate limiter',
  redis: 'Redis (shared quota)',
  observability: 'Observability',
  runtime: 'Runtime',
};

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const positive = (min = 1) => z.coerce.number().min(min);
const csv = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  )
  .pipe(z.array(z.string()).min(1, 'must list at least one entry'));
const url = z.url();

// IPv6 literals in brackets ([::1]:9092), as Kafka writes them; a port between 1 and 65535.
const hostPortPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]@]+):(\d{1,5})$/;

/** True for `host:port` with a usable port, the form every Kafka client expects a broker in. */
export function isHostPort(entry: string): boolean {
  const port = hostPortPattern.exec(entry)?.[1];
  return port !== undefined && Number(port) >= 1 && Number(port) <= 65_535;
}

// Caught here rather than by kafkajs, which reports "localhost" as "Port should be >= 0 and <
// 65536. Received type number (NaN)" from deep inside a connection attempt (issue 15).
const hostPortList = csv.pipe(
  z.array(z.string()).superRefine((entries, context) => {
    for (const entry of entries) {
      if (!isHostPort(entry))
        context.addIssue({
          code: 'custom',
          message: `"${entry}" is not host:port (for example ${entry.split(':')[0] || 'kafka-1'}:9092)`,
        });
    }
  }),
);

// `topic:format`, or a bare `format` for every topic not named. Kafka topic names cannot hold ':'.
const inputFormatList = csv.pipe(
  z.array(z.string()).superRefine((entries, context) => {
    const formats: readonly string[] = inputFormatNames;
    let defaults = 0;
    const topics = new Set<string>();
    for (const entry of entries) {
      const colon = entry.lastIndexOf(':');
      const topic = colon < 0 ? undefined : entry.slice(0, colon).trim();
      const format = entry.slice(colon + 1).trim();
      if (!formats.includes(format)) {
        context.addIssue({
          code: 'custom',
          message: `"${entry}": "${format}" is not a format (${inputFormatNames.join(', ')})`,
        });
      } else if (topic === '') {
        context.addIssue({ code: 'custom', message: `"${entry}" names no topic before the colon` });
      } else if (topic === undefined && ++defaults > 1) {
        context.addIssue({
          code: 'custom',
          message: 'names more than one default format (an entry without a topic)',
        });
      } else if (topic !== undefined && topics.has(topic)) {
        context.addIssue({ code: 'custom', message: `names topic ${topic} twice` });
      }
      if (topic !== undefined) topics.add(topic);
    }
  }),
);

export const settings = {
  KAFKA_BROKERS: {
    group: 'kafka',
    schema: hostPortList.optional(),
    doc: 'Comma-separated bootstrap brokers, host:port.',
  },
  KAFKA_TOPICS: { group: 'kafka', schema: csv.optional(), doc: 'Comma-separated input topics.' },
  INPUT_FORMATS: {
    group: 'kafka',
    schema: inputFormatList.optional(),
    doc:
      "How each input topic's record values are written, as comma-separated `topic:format` entries; " +
      'a bare `format` is the default for the topics not named. Formats: `avro` (Confluent wire format), ' +
      '`json-schema` and `protobuf` (Confluent wire format with a JSON Schema or Protobuf schema in the ' +
      'registry), `json` (schemaless JSON, no registry). A record in another format is dead-lettered, ' +
      'never retried. Records that are not canonical io.gongbridge.InteractionEvent need a mapping ' +
      '(MAPPINGS_FILE; docs/mappings.md).',
    defaultDoc: 'avro for every topic',
  },
  KAFKA_GROUP_ID: {
    group: 'kafka',
    schema: z.string().min(1).default('gong-bridge'),
    doc: 'Consumer group id.',
  },
  KAFKA_DLQ_TOPIC: {
    group: 'kafka',
    schema: z.string().min(1).optional(),
    doc: 'Dead-letter topic.',
    defaultDoc: '<first input topic>.dlq',
  },
  KAFKA_RECEIPTS_TOPIC: {
    group: 'kafka',
    schema: z.string().min(1).optional(),
    doc: 'Receipts topic: one Avro record per settled record (delivered, duplicate or dead-lettered), keyed by eventId, written before the offset is committed; created if missing. Unset: no receipts. See docs/producing-events.md.',
  },
  KAFKA_CLIENT_ID: {
    group: 'kafka',
    schema: z.string().min(1).default('gong-bridge'),
    doc: 'Kafka client id.',
  },
  KAFKA_SSL: { group: 'kafka', schema: bool.default(false), doc: 'Connect to the brokers over TLS.' },
  KAFKA_SSL_CA_FILE: {
    group: 'kafka',
    schema: z.string().optional(),
    doc: 'PEM file of CAs that sign the broker certificates.',
  },
  KAFKA_SSL_CERT_FILE: {
    group: 'kafka',
    schema: z.string().optional(),
    doc: 'PEM client certificate for mutual TLS.',
  },
  KAFKA_SSL_KEY_FILE: {
    group: 'kafka',
    schema: z.string().optional(),
    doc: 'PEM private key for mutual TLS.',
  },
  KAFKA_SSL_REJECT_UNAUTHORIZED: {
    group: 'kafka',
    schema: bool.default(true),
    doc: 'Verify the broker certificate chain and host name.',
  },
  KAFKA_SASL_MECHANISM: {
    group: 'kafka',
    schema: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    doc: 'SASL mechanism; unset disables SASL.',
  },
  KAFKA_SASL_USERNAME: { group: 'kafka', schema: z.string().optional(), doc: 'SASL user name.' },
  KAFKA_SASL_PASSWORD: { group: 'kafka', schema: z.string().optional(), doc: 'SASL password.', secret: true },
  KAFKA_CONNECTION_TIMEOUT_MS: {
    group: 'kafka',
    schema: int(100).default(10_000),
    doc: 'How long to wait for a broker connection before failing with a clear error.',
  },
  KAFKA_QUOTA_TOPIC: {
    group: 'kafka',
    schema: z.string().min(1).default('gong-bridge.quota'),
    doc:
      'Compacted topic where, without Redis, each process keeps the Gong calls it made in the last 24 h, ' +
      'so a restart remembers the day (created if missing).',
  },
  // kafkajs has no static membership: a replica killed and restarted at once stalls the whole
  // group until its old member's session expires (23.5 s with 30 s, 6.5 s with 10 s; docs/scaling.md).
  // A spurious expiry costs one rebalance, in which nothing but calls on the wire is redone.
  KAFKA_SESSION_TIMEOUT_MS: {
    group: 'kafka',
    schema: int(6_000, 300_000).default(10_000),
    doc:
      'Consumer group session timeout: how long a crashed replica keeps its partitions, and how long a ' +
      'replica killed and restarted at once stalls the whole group.',
  },

  SCHEMA_REGISTRY_URL: {
    group: 'registry',
    schema: url.optional(),
    doc: 'Confluent-compatible schema registry base URL.',
  },
  SCHEMA_REGISTRY_USERNAME: {
    group: 'registry',
    schema: z.string().optional(),
    doc: 'Registry basic-auth user.',
  },
  SCHEMA_REGISTRY_PASSWORD: {
    group: 'registry',
    schema: z.string().optional(),
    doc: 'Registry basic-auth password.',
    secret: true,
  },
  SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS: {
    group: 'registry',
    schema: int(0).default(30_000),
    doc: 'How long a schema id the registry does not know (404, error_code 40403) is asked about again before its records are dead-lettered as UNKNOWN_SCHEMA_ID, counted from the first such answer: a record can arrive before a lagging registry follower has its new schema. The record waits meanwhile (its partition does not commit past it). 0 dead-letters at once.',
  },

  GONG_BASE_URL: {
    group: 'gong',
    schema: url.default('https://api.gong.io'),
    doc: 'Gong API base URL; tenant URLs such as https://us-12345.api.gong.io work.',
  },
  GONG_ACCESS_KEY: {
    group: 'gong',
    schema: z.string().optional(),
    doc: 'Gong access key (Basic auth).',
    secret: true,
  },
  GONG_ACCESS_KEY_SECRET: {
    group: 'gong',
    schema: z.string().optional(),
    doc: 'Gong access key secret (Basic auth).',
    secret: true,
  },
  GONG_BEARER_TOKEN: {
    group: 'gong',
    schema: z.string().optional(),
    doc: 'Gong OAuth bearer token.',
    secret: true,
  },
  GONG_BEARER_TOKEN_FILE: {
    group: 'gong',
    schema: z.string().optional(),
    doc: 'File holding the bearer token; re-read when it changes, so rotation needs no restart.',
  },
  GONG_CONNECT_TIMEOUT_MS: { group: 'gong', schema: int(1).default(10_000), doc: 'TCP/TLS connect timeout.' },
  GONG_HEADERS_TIMEOUT_MS: {
    group: 'gong',
    schema: int(1).default(30_000),
    doc: 'Time allowed for Gong to send response headers.',
  },
  GONG_BODY_TIMEOUT_MS: {
    group: 'gong',
    schema: int(1).default(30_000),
    doc: 'Time allowed between body chunks.',
  },
  GONG_MAX_CONNECTIONS: { group: 'gong', schema: int(1, 1024).default(16), doc: 'Keep-alive pool size.' },
  GONG_MAX_BODY_BYTES: {
    group: 'gong',
    schema: int(1024).default(1_048_576),
    doc: 'Largest request body sent to Gong; larger bodies are dead-lettered.',
  },
  // Gong's contract states no string or list limits. These bounds are the bridge's: the string
  // default equals the body limit, so it withholds nothing the body limit would let through and
  // only names the field; the list default bounds what one broken record costs the validator,
  // which keeps one problem per bad item (about 1,000 x 300 B per record in flight).
  GONG_MAX_STRING_LENGTH: {
    group: 'gong',
    schema: int(1).optional(),
    doc: 'Longest string in a body (UTF-16 code units); an event with a longer one is dead-lettered (GONG_INVALID) naming the field.',
    defaultDoc: 'GONG_MAX_BODY_BYTES',
  },
  GONG_MAX_LIST_ITEMS: {
    group: 'gong',
    schema: int(1).default(1_000),
    doc: 'Most items in one list of a body (custom fields, labels, steps, CRM contexts); an event with more is dead-lettered (GONG_INVALID) naming the list.',
  },
  GONG_INFERRED_RULES: {
    group: 'gong',
    schema: z.enum(inferredRuleModes).default('send'),
    doc:
      'Events that break a rule Gong does not document (docs/reference/body-rules.md): send them and ' +
      'count them per rule, or reject them (dead-letter as GONG_INVALID without a call).',
  },
  GONG_INFERRED_RULES_REJECT: {
    group: 'gong',
    schema: csv
      .pipe(z.array(z.enum(inferredRuleNames as [InferredRuleName, ...InferredRuleName[]])))
      .optional(),
    doc:
      'Comma-separated inferred rules to reject even when GONG_INFERRED_RULES=send, e.g. the ones ' +
      `Gong has confirmed (gong_bridge_inferred_rule_verdicts_total). Rules: ${inferredRuleNames.join(', ')}.`,
  },
  GONG_RETRY_BASE_MS: {
    group: 'gong',
    schema: int(1).default(500),
    doc: 'First backoff step for transient failures.',
  },
  GONG_RETRY_MAX_MS: { group: 'gong', schema: int(1).default(60_000), doc: 'Backoff cap.' },
  GONG_RETRY_ALERT_ATTEMPTS: {
    group: 'gong',
    schema: int(1).default(10),
    doc: 'Attempts after which a stuck record is reported (retries never stop).',
  },
  GONG_RETRY_ALERT_AFTER_MS: {
    group: 'gong',
    schema: int(1).default(300_000),
    doc: 'Age after which a stuck record is reported (retries never stop).',
  },
  GONG_AUTH_PROBE_INTERVAL_MS: {
    group: 'gong',
    schema: int(100).default(30_000),
    doc:
      'After a 401/403 (or another halt) all delivery stops; one probe call is made this long later, ' +
      'with a waiting record or the body that failed.',
  },
  GONG_AUTH_PROBE_MAX_MS: {
    group: 'gong',
    schema: int(100).default(300_000),
    doc: 'The wait between halt probes doubles up to this while the probes keep failing.',
  },
  GONG_OUTAGE_PROBE_MAX_MS: {
    group: 'gong',
    schema: int(100).default(5_000),
    doc:
      'While Gong is unavailable (5xx, timeouts, refused connections in a row) one probe at a time ' +
      'is sent, the wait doubling from GONG_RETRY_BASE_MS up to this; recovery is noticed within it.',
  },
  GONG_REJECTION_BREAKER: {
    group: 'gong',
    schema: int(0).default(100),
    doc:
      'Halt delivery (unready, alert, probes) once this many different events in a row are rejected ' +
      'by Gong with the same errors, instead of dead-lettering the whole stream; 0 turns it off.',
  },

  GONG_RATE_PER_SECOND: {
    group: 'limiter',
    schema: positive(0.001).default(3),
    doc: 'Calls per rolling second for the whole account.',
  },
  GONG_BURST: {
    group: 'limiter',
    schema: int(1).optional(),
    doc: 'Calls allowed back to back; never more than the rate within any rolling second.',
    defaultDoc: 'GONG_RATE_PER_SECOND',
  },
  GONG_DAILY_LIMIT: {
    group: 'limiter',
    schema: int(1).default(10_000),
    doc: 'Calls per day for the whole account.',
  },
  GONG_DAILY_WINDOW: {
    group: 'limiter',
    schema: z.enum(['rolling', 'utc-day']).default('rolling'),
    doc: 'How the daily budget is counted: a rolling 24 h or the UTC calendar day.',
  },
  GONG_EXPECTED_REPLICAS: {
    group: 'limiter',
    schema: int(1).default(1),
    doc: 'Replica count; without Redis each replica limits itself to rate / replicas.',
  },
  // On a loaded host, calls that left 1000 ms apart were measured arriving up to ~25 ms closer
  // (new connections, a busy event loop); each such 429 costs a call and a pause. Each call now
  // keeps only what its own round trip shows it needs (WindowMargin), so the cap costs rate only
  // for calls that need all of it; 50 ms never costs more than the fixed margin it replaced.
  GONG_RATE_MARGIN_MS: {
    group: 'limiter',
    schema: int(0, 1_000).default(50),
    doc:
      'The most spacing a call keeps on top of the rolling second, because calls that leave 1000 ms apart ' +
      'can arrive closer together. Each call keeps 2 ms plus its round trip above the fastest recent one, ' +
      'up to this; a call whose answer is not back keeps all of it. Raise it above the network jitter to Gong.',
  },
  GONG_DAILY_LEDGER_INTERVAL_MS: {
    group: 'limiter',
    schema: int(100, 60_000).default(1_000),
    doc:
      "Without Redis, how often the day's spend is written to KAFKA_QUOTA_TOPIC. A crash forgets at most " +
      'the calls of this long: about rate x interval per crash.',
  },
  GONG_LIMITER_DISABLED: {
    group: 'limiter',
    schema: bool.default(false),
    doc: 'Turn the limiter off (benchmarks against an unthrottled sandbox only).',
  },

  REDIS_URL: {
    group: 'redis',
    schema: url.optional(),
    doc: 'Redis for the cluster-wide quota; required past one replica.',
    secret: true,
  },
  REDIS_KEY_PREFIX: {
    group: 'redis',
    schema: z.string().default('gong-bridge'),
    doc: 'Prefix of the limiter keys.',
  },

  HTTP_PORT: {
    group: 'observability',
    schema: int(0, 65_535).default(9464),
    doc: 'Port of /metrics, /healthz, /readyz.',
  },
  HTTP_HOST: {
    group: 'observability',
    schema: z.string().default('0.0.0.0'),
    doc: 'Address the HTTP endpoints bind.',
  },
  LOG_LEVEL: {
    group: 'observability',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    doc: 'pino log level.',
  },
  LOG_FORMAT: {
    group: 'observability',
    schema: z.enum(['auto', 'json', 'pretty']).default('auto'),
    doc:
      'Log line format: json (one object per line, for collectors), pretty (human-readable), or ' +
      'auto: pretty on a terminal, json when piped or in a container.',
  },
  LOG_REDACT_PII: {
    group: 'observability',
    schema: bool.default(false),
    doc: 'Also redact person name, email and phone number from logs.',
  },
  LAG_POLL_INTERVAL_MS: {
    group: 'observability',
    schema: int(1_000).default(15_000),
    doc: 'How often consumer lag (committed offset against the high watermark) is polled for /metrics.',
  },

  MAPPINGS_FILE: {
    group: 'runtime',
    schema: z.string().min(1).optional(),
    doc:
      'YAML or JSON file of mappings that turn upstream events (any Avro writer schema, JSON, Protobuf) into ' +
      "Gong's body (docs/mappings.md). Unset: only canonical io.gongbridge.InteractionEvent records are accepted.",
  },
  MAX_IN_FLIGHT: { group: 'runtime', schema: int(1).default(32), doc: 'Records being delivered at once.' },
  MAX_BUFFERED: {
    group: 'runtime',
    schema: int(1).default(1_000),
    doc: 'Records fetched but not finished; partitions pause beyond it.',
  },
  MAX_RECORD_BYTES: {
    group: 'runtime',
    schema: int(1).default(1_048_576),
    doc: 'Records larger than this are dead-lettered.',
  },
  // A crash replays every settled record not yet committed (a Gong call, or a second dead letter,
  // each). With commits every 5 s, five kills in 3,000 events at 45 calls/s cost 1.163 calls per
  // delivered event, 1.026 with these (medians; docs/reliability.md, "Bridge killed and
  // restarted"). Each commit is one small write, and they are coalesced.
  COMMIT_INTERVAL_MS: {
    group: 'runtime',
    schema: int(10).default(1_000),
    doc: 'Longest a settled record waits for its offset commit; commits are coalesced, one at a time.',
  },
  COMMIT_MAX_PENDING: {
    group: 'runtime',
    schema: int(1).default(20),
    doc:
      'Settled records that may wait for their offset commit: reaching it commits at once. Behind a record ' +
      'that cannot settle yet, a partition goes on until its share of MAX_BUFFERED (at least this many) ' +
      'wait. A crash sends again what waits, plus the records in flight.',
  },
  SHUTDOWN_TIMEOUT_MS: {
    group: 'runtime',
    schema: int(0).default(30_000),
    doc: 'Time allowed to drain in-flight work on SIGTERM.',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof settings;
export type Settings = { readonly [K in SettingName]: z.output<(typeof settings)[K]['schema']> };
export const settingNames = Object.keys(settings) as SettingName[];
export const secretSettingNames = settingNames.filter(
  (name) => (settings[name] as SettingSpec).secret === true,
);
