import { Redis } from 'ioredis';
import { logLevel, type Admin, type KafkaConfig } from 'kafkajs';
import { awaitGroupCoordinator, kafkaErrorKinds } from '../kafka/group-coordinator.ts';
import { kafkaClient } from '../kafka/kafka-client.ts';
import { request } from 'undici';
import { loadConfig, requireSetting, type Env, type ReadFile } from '../config/config.ts';
import type { Settings } from '../config/settings.ts';
import { systemClock, systemSleep } from '../delivery/system-time.ts';
import { maskUrlCredentials, urlCredentialValues } from '../config/redact.ts';
import { configWarnings, unknownVariableWarnings } from '../config/warnings.ts';
import { isBridgeError } from '../errors.ts';
import { authFromConfig, createGongClient, gongClientOptionsFromConfig } from '../gong/client.ts';
import {
  explainKafkaError,
  kafkaClientConfig,
  registryClientOptions,
  type RegistryClientOptions,
} from '../kafka/connection.ts';
import { defaultInputFormat, inputFormats } from '../decode/formats/index.ts';
import { configuredFormat, needsRegistry } from '../decode/inputs.ts';
import { createRegistryLookup } from '../decode/registry.ts';
import { dlqHeadroomBytes, dlqMaxMessageBytes, dlqTopicConfig } from '../kafka/dlq.ts';
import { checkMappings } from './mapping-check.ts';
import { secretValues, valueRedactor } from '../observability/logger.ts';

/**
 * The checks behind `gong-bridge doctor`. Each answers one question a platform engineer asks when
 * setting the bridge up, and a failed check says what to change. A check that depends on an
 * earlier one (topics on the brokers, subjects on the registry) is skipped when that one failed,
 * so one fault gives one ✗ line instead of a cascade.
 *
 * Nothing here may hang: every network step has its own timeout, kafkajs retries are off, and the
 * whole check is raced against the timeout as well, because a half-open socket can outlive the
 * library's own timers.
 */

/** `warn`: passed, but something should change (a misspelt variable, TLS verification off). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  readonly id: CheckId;
  readonly title: string;
  readonly status: CheckStatus;
  /** What was found, on one line. */
  readonly detail: string;
  /** What to change; set on every failure. */
  readonly fix?: string;
}

export const checkIds = [
  'config',
  'kafka',
  'topics',
  'dlq',
  'group',
  'registry',
  'subjects',
  'mappings',
  'redis',
  'gong',
  'gong-auth',
] as const;
export type CheckId = (typeof checkIds)[number];

const titles: Record<CheckId, string> = {
  config: 'configuration parses',
  kafka: 'Kafka brokers answer',
  topics: 'input topics exist',
  dlq: 'dead-letter topic',
  group: 'consumer group readable',
  registry: 'schema registry answers',
  subjects: 'registry subjects exist',
  mappings: 'mappings fit their schemas',
  redis: 'Redis answers',
  gong: 'Gong reachable',
  'gong-auth': 'Gong accepts the credentials',
};

export interface DoctorOptions {
  readonly env: Env;
  /** Per network step, ms. */
  readonly timeoutMs: number;
  /** Spend one Gong call to prove the credentials. */
  readonly gongAuth: boolean;
  /** Create the dead-letter topic when it is missing. */
  readonly createDlq: boolean;
  readonly readFile?: ReadFile;
}

const configRef = 'docs/reference/configuration.md';

export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  // Every line passes through here: URLs lose their credentials and no secret value survives,
  // whichever check quoted a URL, an error or a setting (issue 15).
  let redactValues = (text: string) => text;
  const scrub = (text: string) => maskUrlCredentials(redactValues(text));
  const add = (id: CheckId, status: CheckStatus, detail: string, fix?: string) =>
    results.push({
      id,
      title: titles[id],
      status,
      detail: scrub(detail),
      ...(fix === undefined ? {} : { fix: scrub(fix) }),
    });
  const ok = (id: CheckId, detail: string) => add(id, 'ok', detail);
  const fail = (id: CheckId, detail: string, fix: string) => add(id, 'fail', detail, fix);
  const skip = (id: CheckId, detail: string) => add(id, 'skip', detail);

  // ---- config: everything `run` validates at start-up, every problem at once.
  let config: Settings;
  try {
    config = loadConfig(options.env, options.readFile);
  } catch (error) {
    const unknown = unknownVariableWarnings(options.env).map((warning) => warning.message);
    fail('config', [...problemsOf(error), ...unknown].join('; '), fixFor(error));
    for (const id of checkIds.slice(1)) skip(id, 'needs a configuration that parses');
    return results;
  }
  // REDIS_URL is a secret as a whole in logs; doctor shows its host (the userinfo is masked) and
  // only its credentials count as secret values here.
  redactValues = valueRedactor(
    secretValues({ ...config, REDIS_URL: undefined }, urlCredentialValues(config.REDIS_URL)),
  );
  const problems: { message: string; fix: string }[] = [];
  const attempt = <T>(build: () => T): T | undefined => {
    try {
      return build();
    } catch (error) {
      problems.push({ message: oneLine(error), fix: fixFor(error) });
      return undefined;
    }
  };
  const kafka = attempt(() => kafkaClientConfig(config, options.readFile));
  const topics = attempt(() => requireSetting(config, 'KAFKA_TOPICS'));
  const registry = needsRegistry(config.KAFKA_TOPICS, config.INPUT_FORMATS)
    ? attempt(() => registryClientOptions(config))
    : undefined;
  const gongAuthUsable = attempt(() => authFromConfig(config)) !== undefined;
  const warnings = configWarnings(options.env, config);
  if (problems.length === 0 && warnings.length === 0) {
    ok('config', `${Object.keys(config).length} settings parsed`);
  } else if (problems.length === 0) {
    add(
      'config',
      'warn',
      `${Object.keys(config).length} settings parsed; ${warnings.map((warning) => warning.message).join('; ')}`,
    );
  } else {
    fail(
      'config',
      [...problems.map((problem) => problem.message), ...warnings.map((warning) => warning.message)].join(
        '; ',
      ),
      [...new Set(problems.map((problem) => problem.fix))].join('; '),
    );
  }
  const dlqTopic = config.KAFKA_DLQ_TOPIC ?? (topics?.[0] === undefined ? undefined : `${topics[0]}.dlq`);

  const report: Reporter = { ok, fail, skip };

  // ---- Kafka: brokers, topics, DLQ, group.
  let existingTopics: string[] | undefined;
  if (kafka === undefined) {
    for (const id of ['kafka', 'topics', 'dlq', 'group'] as const) skip(id, 'needs valid Kafka settings');
  } else {
    existingTopics = await kafkaChecks(config, kafka, topics, dlqTopic, options, report);
  }

  // ---- registry and subjects. Subjects are only checked for topics the brokers listed, so a
  // wrong topic name is reported once (under topics), not again as a missing subject; and only
  // for topics read through the registry (not schemaless json).
  let registryAnswers = false;
  const framedTopics = (existingTopics ?? topics ?? []).filter(
    (topic) =>
      inputFormats[configuredFormat(topic, config.INPUT_FORMATS) ?? defaultInputFormat].schemaType !==
      undefined,
  );
  if (!needsRegistry(topics, config.INPUT_FORMATS)) {
    skip('registry', 'every topic is read as schemaless json (INPUT_FORMATS)');
    skip('subjects', 'every topic is read as schemaless json (INPUT_FORMATS)');
  } else if (registry === undefined) {
    skip('registry', 'needs valid registry settings');
    skip('subjects', 'needs valid registry settings');
  } else {
    registryAnswers = await registryChecks(registry, framedTopics, options.timeoutMs, report);
  }

  // ---- mappings: loaded as run loads them, then run over records generated from their schemas.
  // Without the registry (down, refusing us: already one ✗ above) their schema: files serve.
  const lookup =
    registryAnswers && registry !== undefined
      ? createRegistryLookup({
          url: registry.host,
          username: registry.auth?.username,
          password: registry.auth?.password,
          timeoutMs: options.timeoutMs,
        })
      : undefined;
  try {
    const verdict = await withTimeout(options.timeoutMs * 4, 'the mapping check took too long', () =>
      checkMappings(config, topics ?? [], lookup),
    );
    add('mappings', verdict.status, verdict.detail, verdict.fix);
  } catch (error) {
    fail('mappings', oneLine(error), fixFor(error));
  } finally {
    lookup?.close();
  }

  // ---- Redis, only when configured.
  if (config.REDIS_URL === undefined) {
    ok(
      'redis',
      config.GONG_EXPECTED_REPLICAS > 1
        ? `not set: each of the ${config.GONG_EXPECTED_REPLICAS} replicas limits itself to 1/${config.GONG_EXPECTED_REPLICAS} of the quota`
        : 'not set: the limiter is local to this replica (enough for one replica)',
    );
  } else {
    await redisCheck(config.REDIS_URL, options.timeoutMs, report);
  }

  // ---- Gong.
  await gongChecks(config, gongAuthUsable, options, report);
  return results;
}

/** Returns the input topics the brokers listed, or undefined when they could not be listed. */
async function kafkaChecks(
  settings: Settings,
  kafkaConfig: KafkaConfig,
  inputTopics: string[] | undefined,
  dlq: string | undefined,
  opts: DoctorOptions,
  report: Reporter,
): Promise<string[] | undefined> {
  const client = kafkaClient({
    ...kafkaConfig,
    connectionTimeout: Math.min(kafkaConfig.connectionTimeout ?? opts.timeoutMs, opts.timeoutMs),
    authenticationTimeout: opts.timeoutMs,
    requestTimeout: opts.timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = client.admin();
  try {
    const cluster = await withTimeout(opts.timeoutMs, 'no answer', async () => {
      await admin.connect();
      return admin.describeCluster();
    });
    report.ok(
      'kafka',
      `${cluster.brokers.length} broker(s) answered at ${(settings.KAFKA_BROKERS ?? []).join(',')}`,
    );
  } catch (error) {
    const explained = explainKafkaError(error, settings);
    report.fail(
      'kafka',
      explained.message,
      explained.context.fix ??
        (explained.context.variable !== undefined
          ? `check ${explained.context.variable} (${configRef})`
          : 'check KAFKA_BROKERS and that the brokers are reachable from here (DNS, firewall); if the listener uses TLS or SASL, set KAFKA_SSL / KAFKA_SASL_*'),
    );
    for (const id of ['topics', 'dlq', 'group'] as const) report.skip(id, 'needs Kafka');
    await admin.disconnect().catch(() => {});
    return undefined;
  }
  try {
    const existing = await topicChecks(admin, inputTopics, dlq, settings.MAX_RECORD_BYTES, opts, report);
    await groupCheck(admin, settings.KAFKA_GROUP_ID, opts.timeoutMs, report);
    return existing;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function topicChecks(
  admin: Admin,
  inputTopics: string[] | undefined,
  dlq: string | undefined,
  maxRecordBytes: number,
  opts: DoctorOptions,
  report: Reporter,
): Promise<string[] | undefined> {
  let listed: Set<string>;
  try {
    listed = new Set(await withTimeout(opts.timeoutMs, 'listing topics timed out', () => admin.listTopics()));
  } catch (error) {
    report.fail(
      'topics',
      `cannot list topics: ${oneLine(error)}`,
      kafkaFix(error, opts.timeoutMs, 'grant this principal Describe on the topics'),
    );
    report.skip('dlq', 'needs the topic list');
    return undefined;
  }
  const existing = (inputTopics ?? []).filter((topic) => listed.has(topic));
  if (inputTopics === undefined) {
    report.skip('topics', 'KAFKA_TOPICS is not set');
  } else {
    const missing = inputTopics.filter((topic) => !listed.has(topic));
    if (missing.length === 0) report.ok('topics', inputTopics.join(', '));
    else
      report.fail(
        'topics',
        `not found: ${missing.join(', ')}`,
        'correct KAFKA_TOPICS, or create the topic; if it exists, grant this principal Describe on it',
      );
  }
  if (dlq === undefined) {
    report.skip('dlq', 'no input topic to name it after; set KAFKA_DLQ_TOPIC');
  } else if (listed.has(dlq)) {
    await dlqSizeCheck(admin, dlq, existing, maxRecordBytes, opts.timeoutMs, report);
  } else {
    await missingDlq(admin, dlq, existing[0], maxRecordBytes, opts, report);
  }
  return existing;
}

/**
 * A dead letter is the record plus our headers. A DLQ topic whose max.message.bytes cannot take
 * that for every record the bridge accepts (MAX_RECORD_BYTES) turns such dead letters into
 * reference letters, without their value. Records a source topic allows above MAX_RECORD_BYTES
 * are dead-lettered as RECORD_TOO_LARGE, whole when the DLQ takes them, else as reference letters.
 */
async function dlqSizeCheck(
  admin: Admin,
  dlq: string,
  sources: readonly string[],
  maxRecordBytes: number,
  timeoutMs: number,
  report: Reporter,
): Promise<void> {
  let limits: Map<string, number>;
  try {
    limits = await withTimeout(timeoutMs, 'no answer', () => maxMessageBytes(admin, [dlq, ...sources]));
  } catch (error) {
    report.ok(
      'dlq',
      `${dlq} exists; its max.message.bytes could not be read (${oneLine(error)}): grant this principal DescribeConfigs on it to have it checked`,
    );
    return;
  }
  const dlqLimit = limits.get(dlq);
  const needed = dlqMaxMessageBytes(maxRecordBytes);
  if (dlqLimit === undefined) {
    report.ok('dlq', `${dlq} exists; the broker did not report its max.message.bytes`);
    return;
  }
  if (dlqLimit < needed) {
    report.fail(
      'dlq',
      `${dlq} has max.message.bytes ${dlqLimit}, below MAX_RECORD_BYTES (${maxRecordBytes}) plus ${dlqHeadroomBytes} for our headers: ` +
        'the dead letter of a record near the limit would not fit and is written as a reference letter, without its value',
      `raise it: kafka-configs.sh --alter --entity-type topics --entity-name ${dlq} --add-config max.message.bytes=${needed} ` +
        `(or lower MAX_RECORD_BYTES to ${Math.max(0, dlqLimit - dlqHeadroomBytes)}); see docs/runbook.md#dlq-sizing`,
    );
    return;
  }
  const larger = sources.filter((topic) => (limits.get(topic) ?? 0) > dlqLimit - dlqHeadroomBytes);
  const note =
    larger.length === 0
      ? ''
      : `; ${larger.map((topic) => `${topic} allows ${limits.get(topic)}`).join(', ')} bytes: records over ` +
        `${dlqLimit - dlqHeadroomBytes} bytes are dead-lettered as RECORD_TOO_LARGE reference letters (no value)`;
  report.ok(
    'dlq',
    `${dlq} exists, max.message.bytes ${dlqLimit} (takes every record up to MAX_RECORD_BYTES ${maxRecordBytes})${note}`,
  );
}

/** Effective max.message.bytes per topic (the broker's default when the topic sets none). */
async function maxMessageBytes(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const described = await admin.describeConfigs({
    resources: topics.map((name) => ({
      // ConfigResourceTypes.TOPIC; kafkajs does not export the enum to ES modules under Node.
      type: 2,
      name,
      configNames: ['max.message.bytes'],
    })),
    includeSynonyms: false,
  });
  const out = new Map<string, number>();
  for (const resource of described.resources) {
    const entry = resource.configEntries.find((config) => config.configName === 'max.message.bytes');
    if (entry !== undefined && Number.isFinite(Number(entry.configValue)))
      out.set(resource.resourceName, Number(entry.configValue));
  }
  return out;
}

/**
 * A missing dead-letter topic is fine when `run` can create it at start-up (it does, with the
 * broker's defaults): a validate-only CreateTopics asks the controller whether this principal
 * may, under the ACLs and topic policies, without creating anything. Doctor itself creates it
 * only with --create-dlq.
 */
async function missingDlq(
  admin: Admin,
  dlq: string,
  firstTopic: string | undefined,
  maxRecordBytes: number,
  opts: DoctorOptions,
  report: Reporter,
): Promise<void> {
  // Same partition count as the first input topic, so dead letters keep their partitioning; the
  // same size limit and compression run gives a DLQ it creates.
  const partitions = await partitionCount(admin, firstTopic, opts.timeoutMs);
  const spec = { topic: dlq, numPartitions: partitions ?? -1, configEntries: dlqTopicConfig(maxRecordBytes) };
  const sized = `max.message.bytes ${dlqMaxMessageBytes(maxRecordBytes)}, gzip`;
  const cannot =
    'ask the Kafka admins to create it or grant this principal Create on it, or set KAFKA_DLQ_TOPIC to an existing topic';
  if (opts.createDlq) {
    try {
      await withTimeout(opts.timeoutMs, 'no answer', () =>
        admin.createTopics({ topics: [spec], waitForLeaders: true }),
      );
      report.ok(
        'dlq',
        `${dlq} created with ${partitions ?? "the broker's default number of"} partitions, ${sized}`,
      );
    } catch (error) {
      report.fail(
        'dlq',
        `${dlq} could not be created: ${oneLine(error)}`,
        kafkaFix(error, opts.timeoutMs, cannot),
      );
    }
    return;
  }
  try {
    await withTimeout(opts.timeoutMs, 'no answer', () =>
      admin.createTopics({ topics: [spec], validateOnly: true, waitForLeaders: false }),
    );
    report.ok(
      'dlq',
      `${dlq} does not exist yet; run creates it at start-up with ${sized} (dry run passed; --create-dlq creates it now)`,
    );
  } catch (error) {
    const refused = kafkaErrorKinds(error).some((kind) =>
      /_AUTHORIZATION_FAILED$|^POLICY_VIOLATION$/.test(kind),
    );
    report.fail(
      'dlq',
      `${dlq} does not exist and ${refused ? 'this principal may not create it' : 'the dry run of creating it failed'}: ${oneLine(error)}`,
      refused ? cannot : kafkaFix(error, opts.timeoutMs, cannot),
    );
  }
}

type Reporter = {
  ok(id: CheckId, detail: string): void;
  fail(id: CheckId, detail: string, fix: string): void;
  skip(id: CheckId, detail: string): void;
};

async function partitionCount(
  admin: Admin,
  topic: string | undefined,
  timeoutMs: number,
): Promise<number | undefined> {
  if (topic === undefined) return undefined;
  try {
    const metadata = await withTimeout(timeoutMs, 'no answer', () =>
      admin.fetchTopicMetadata({ topics: [topic] }),
    );
    return metadata.topics[0]?.partitions.length;
  } catch {
    return undefined;
  }
}

async function groupCheck(admin: Admin, groupId: string, timeoutMs: number, report: Reporter): Promise<void> {
  try {
    // Right after a broker starts, its group coordinator is still creating or loading
    // __consumer_offsets: that is waited for (within the step's timeout), not taken for a refusal.
    const coordinator = await withTimeout(timeoutMs + 1_000, 'no answer', () =>
      awaitGroupCoordinator(admin, groupId, { timeoutMs, clock: systemClock, sleep: systemSleep }),
    );
    if (!coordinator.ready) {
      report.fail(
        'group',
        `${groupId}: the group coordinator is still starting after ${coordinator.waitedMs} ms (${coordinator.last})`,
        'normal for a few seconds after a broker starts (it creates and loads __consumer_offsets): rerun doctor shortly, or with a longer --timeout',
      );
      return;
    }
    const described = await withTimeout(timeoutMs, 'no answer', () => admin.describeGroups([groupId]));
    const group = described.groups[0];
    // A group that never committed is "Dead" to the coordinator: normal before the first run.
    const offsets = await withTimeout(timeoutMs, 'no answer', () => admin.fetchOffsets({ groupId }));
    const committed = offsets.reduce(
      (sum, topic) => sum + topic.partitions.filter((partition) => partition.offset !== '-1').length,
      0,
    );
    const state =
      group === undefined || group.state === 'Dead'
        ? 'no members'
        : `${group.state}, ${group.members.length} member(s)`;
    report.ok(
      'group',
      `${groupId}: ${state}, ${committed === 0 ? 'no committed offsets yet' : `offsets committed on ${committed} partition(s)`}`,
    );
  } catch (error) {
    report.fail(
      'group',
      `${groupId}: ${oneLine(error)}`,
      kafkaFix(error, timeoutMs, 'grant this principal Describe and Read on the group (KAFKA_GROUP_ID)'),
    );
  }
}

/**
 * The fix line for a Kafka step that failed: an access fix only when the broker said the principal
 * lacks access, a timeout's when nothing answered in time, and otherwise nothing that guesses at a
 * cause the answer does not show.
 */
function kafkaFix(error: unknown, timeoutMs: number, accessFix: string): string {
  const kinds = kafkaErrorKinds(error);
  if (kinds.some((kind) => kind.endsWith('_AUTHORIZATION_FAILED') || kind === 'POLICY_VIOLATION'))
    return accessFix;
  if (kinds.includes('INVALID_GROUP_ID')) return 'correct KAFKA_GROUP_ID';
  if (/no answer within|timed? ?out/i.test(oneLine(error)) || kinds.includes('KafkaJSRequestTimeoutError'))
    return `nothing answered within ${timeoutMs} ms: check the brokers' load and the network from here, or rerun with a longer --timeout`;
  return "the broker's answer is above; its log says more (this check could not tell the cause)";
}

async function registryChecks(
  options: RegistryClientOptions,
  topics: readonly string[],
  timeoutMs: number,
  report: Reporter,
): Promise<boolean> {
  const base = options.host.replace(/\/+$/, '');
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
  };
  if (options.auth !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
  }
  const get = (path: string) =>
    request(`${base}${path}`, {
      headers,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
  try {
    const answer = await get('/subjects');
    await answer.body.dump();
    if (answer.statusCode === 401 || answer.statusCode === 403) {
      report.fail(
        'registry',
        `${base} answered ${answer.statusCode}`,
        'check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD',
      );
      report.skip('subjects', 'needs the registry');
      return false;
    }
    if (answer.statusCode !== 200) {
      report.fail(
        'registry',
        `${base}/subjects answered HTTP ${answer.statusCode}`,
        'SCHEMA_REGISTRY_URL must be the Confluent-compatible API base (for Apicurio: .../apis/ccompat/v7)',
      );
      report.skip('subjects', 'needs the registry');
      return false;
    }
    report.ok('registry', base);
  } catch (error) {
    report.fail(
      'registry',
      `${base}: ${transportMessage(error)}`,
      'check SCHEMA_REGISTRY_URL and that the registry is reachable from here',
    );
    report.skip('subjects', 'needs the registry');
    return false;
  }
  if (topics.length === 0) {
    report.skip('subjects', 'no existing input topic read through the registry');
    return true;
  }
  const missing: string[] = [];
  const found: string[] = [];
  for (const topic of topics) {
    const subject = `${topic}-value`;
    try {
      const answer = await get(`/subjects/${encodeURIComponent(subject)}/versions`);
      const versions =
        answer.statusCode === 200
          ? ((await answer.body.json()) as unknown[])
          : (await answer.body.dump(), []);
      if (answer.statusCode === 200)
        found.push(`${subject} (${versions.length} version${versions.length === 1 ? '' : 's'})`);
      else missing.push(subject);
    } catch (error) {
      report.fail(
        'subjects',
        `${subject}: ${transportMessage(error)}`,
        'check that the registry is reachable from here',
      );
      return false;
    }
  }
  if (missing.length === 0) report.ok('subjects', found.join(', '));
  else
    report.fail(
      'subjects',
      `not registered: ${missing.join(', ')}`,
      'producers register <topic>-value when they first write (see docs/producing-events.md); or correct KAFKA_TOPICS',
    );
  return true;
}

async function redisCheck(url: string, timeoutMs: number, report: Reporter): Promise<void> {
  const shown = maskUrlCredentials(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Without a listener ioredis prints connection errors itself; doctor reports them instead,
  // keeping the first because ioredis follows it with a vaguer "Connection is closed".
  let firstError: unknown;
  redis.on('error', (error: unknown) => {
    firstError ??= error;
  });
  try {
    const pong = await withTimeout(timeoutMs, 'no answer', async () => {
      await redis.connect();
      return redis.ping();
    });
    report.ok('redis', `${shown} answered ${pong}`);
  } catch (error) {
    const message = transportMessage(firstError ?? error);
    report.fail(
      'redis',
      `${shown}: ${message}`,
      /NOAUTH|WRONGPASS|auth/i.test(message)
        ? 'check the password in REDIS_URL (redis://:password@host:port)'
        : 'check REDIS_URL and that Redis is reachable from here; unset it to run one replica with a local limiter',
    );
  } finally {
    redis.disconnect();
  }
}

async function gongChecks(
  config: Settings,
  credentialsUsable: boolean,
  options: DoctorOptions,
  report: Reporter,
): Promise<void> {
  const base = config.GONG_BASE_URL.replace(/\/+$/, '');
  const target = `${base}/v2/digital-interaction`;
  // Reachability without spending quota: a GET with no credentials. Gong cannot attribute it to
  // an account, so it is never counted; any HTTP answer (401, 404, 405) proves DNS, TCP, TLS and
  // the path through proxies. Only a transport failure is a failure.
  let reachable = false;
  try {
    const answer = await request(target, {
      method: 'GET',
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    await answer.body.dump();
    reachable = true;
    // Any answer proves the network path. A 404 may still mean a wrong base URL, which only an
    // authenticated call can tell apart, so it is named rather than judged.
    const hint = answer.statusCode === 404 ? '; if --gong-auth also gets 404, GONG_BASE_URL is wrong' : '';
    report.ok(
      'gong',
      `${base} answered HTTP ${answer.statusCode} to an unauthenticated GET (no quota used)${hint}`,
    );
  } catch (error) {
    report.fail(
      'gong',
      `${base}: ${transportMessage(error)}`,
      'check GONG_BASE_URL, DNS and that egress to it is allowed (proxy, firewall)',
    );
  }
  if (!options.gongAuth) {
    report.skip('gong-auth', 'not checked: pass --gong-auth to spend one call proving the credentials');
    return;
  }
  if (!reachable || !credentialsUsable) {
    report.skip('gong-auth', reachable ? 'needs Gong credentials' : 'needs Gong to be reachable');
    return;
  }
  // One authenticated call with a body Gong must refuse: an empty object fails validation, so a
  // 400 proves the credentials without recording anything, while 401/403 means they are wrong.
  // It still counts against the quota, which is why it is opt-in.
  const client = createGongClient({
    ...gongClientOptionsFromConfig(config, systemClock),
    connectTimeoutMs: options.timeoutMs,
    headersTimeoutMs: options.timeoutMs,
    bodyTimeoutMs: options.timeoutMs,
    maxConnections: 1,
  });
  try {
    const result = await client.postDigitalInteraction('{}', AbortSignal.timeout(options.timeoutMs + 1000));
    if (result.kind === 'transport') {
      report.fail(
        'gong-auth',
        `no answer: ${result.message}`,
        'check GONG_BASE_URL and egress; or the token file (GONG_BEARER_TOKEN_FILE)',
      );
    } else if (result.status === 401 || result.status === 403) {
      report.fail(
        'gong-auth',
        `Gong answered ${result.status} to one call (1 call of quota used)`,
        'check GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_BEARER_TOKEN(_FILE), and that the key may post digital interactions',
      );
    } else if (
      result.status === 400 ||
      result.status === 409 ||
      result.status === 429 ||
      result.status < 300
    ) {
      report.ok(
        'gong-auth',
        `credentials accepted: Gong answered ${result.status} to an intentionally invalid body (1 call of quota used, nothing recorded)`,
      );
    } else {
      report.fail(
        'gong-auth',
        `Gong answered ${result.status} (1 call of quota used)`,
        result.status >= 500
          ? "retry later: a 5xx is on Gong's side"
          : result.status === 404 || result.status === 405
            ? 'GONG_BASE_URL does not serve /v2/digital-interaction: use https://api.gong.io or your tenant URL, including any gateway path prefix'
            : 'see docs/delivery.md for what each Gong answer means',
      );
    }
  } catch (error) {
    report.fail('gong-auth', `no answer: ${oneLine(error)}`, 'check GONG_BASE_URL and egress');
  } finally {
    await client.close();
  }
}

/** Races work against a timer, so a stuck socket cannot keep doctor waiting. */
async function withTimeout<T>(ms: number, message: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

function transportMessage(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const code = (error as { code?: string } | undefined)?.code ?? cause?.code;
  const base = cause?.message !== undefined && cause.message !== '' ? cause.message : oneLine(error);
  return code !== undefined && !base.includes(code) ? `${base} (${code})` : base;
}

/** Every problem of a configuration error, not only the first line. */
function problemsOf(error: unknown): string[] {
  if (isBridgeError(error) && error.context.details !== undefined && error.context.details.length > 0)
    return [...error.context.details];
  return [oneLine(error)];
}

function fixFor(error: unknown): string {
  if (isBridgeError(error) && error.context.variable !== undefined)
    return `set ${error.context.variable} correctly (${configRef})`;
  return `see ${configRef}`;
}
