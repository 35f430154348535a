import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { type Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, type Env } from '../../src/config/config.ts';
import { explainKafkaError, kafkaClientConfig, registryClientOptions } from '../../src/kafka/connection.ts';
import type { BridgeError } from '../../src/errors.ts';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { repoRoot } from '../cli/run-cli.ts';
import { waitFor } from '../helpers/bridge.ts';
import { startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.ts';

/**
 * The bridge's own client configuration (loadConfig → kafkaClientConfig) against a real broker
 * with TLS, mutual TLS, SASL/SCRAM-SHA-512 and SASL/PLAIN over TLS listeners, and the registry
 * client's basic auth against Apicurio behind an authenticating proxy. Every failure case also
 * checks that the error names the settings to fix and never contains the password.
 */

let broker: SecureKafka;
let secretsDir: string;

beforeAll(async () => {
  secretsDir = await mkdtemp(join(tmpdir(), 'gong-bridge-secrets-'));
  await startRegistryProxy();
  broker = await startSecureKafka();
}, 120_000);

afterAll(async () => {
  await broker?.stop();
  await stopRegistryProxy();
  if (secretsDir !== undefined) await rm(secretsDir, { recursive: true, force: true });
});

/** A secret file as Kubernetes mounts it: its own file, with a trailing newline. */
async function secretFile(value: string): Promise<string> {
  const path = join(secretsDir, randomUUID());
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return path;
}

function bridgeKafka(env: Env, overrides: Partial<KafkaConfig> = {}): Kafka {
  const config = kafkaClientConfig(loadConfig({ KAFKA_CLIENT_ID: 'security-test', ...env }));
  return kafkaClient({ ...config, logLevel: logLevel.NOTHING, ...overrides });
}

/** Admin, producer and consumer all over the listener under test, so each path is exercised. */
async function roundTrip(kafka: Kafka): Promise<void> {
  const topic = `security-${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    const sent = `hello ${randomUUID()}`;
    await producer.send({ topic, acks: -1, messages: [{ value: sent }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `security-${randomUUID().slice(0, 8)}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record consumed within 30 s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve(message.value?.toString() ?? '');
          },
        });
      });
      expect(received).toBe(sent);
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
}

/** Connects with retries off (the runtime owns retrying) and returns the explained error. */
async function connectFailure(env: Env): Promise<BridgeError> {
  const admin = bridgeKafka(env, { retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
  } catch (error) {
    return explainKafkaError(error, loadConfig(env));
  }
  await admin.disconnect();
  throw new Error('expected the connection to fail');
}

describe('Kafka security against a real broker', () => {
  const at = (port: number) => `127.0.0.1:${port}`;

  it('connects over TLS, trusting the CA in KAFKA_SSL_CA_FILE', async () => {
    await roundTrip(
      bridgeKafka({
        KAFKA_BROKERS: at(broker.ports.ssl),
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: broker.files.ca,
      }),
    );
  });

  it('connects with mutual TLS using KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE', async () => {
    await roundTrip(
      bridgeKafka({
        KAFKA_BROKERS: at(broker.ports.mtls),
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: broker.files.ca,
        KAFKA_SSL_CERT_FILE: broker.files.clientCert,
        KAFKA_SSL_KEY_FILE: broker.files.clientKey,
      }),
    );
  });

  it('connects with SASL/SCRAM-SHA-512, the password read from KAFKA_SASL_PASSWORD_FILE', async () => {
    await roundTrip(
      bridgeKafka({
        KAFKA_BROKERS: at(broker.ports.scram),
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: broker.users.scram.username,
        KAFKA_SASL_PASSWORD_FILE: await secretFile(broker.users.scram.password),
      }),
    );
  });

  it('connects with SASL/PLAIN over TLS', async () => {
    await roundTrip(
      bridgeKafka({
        KAFKA_BROKERS: at(broker.ports.plainSsl),
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: broker.files.ca,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: broker.users.plain.username,
        KAFKA_SASL_PASSWORD: broker.users.plain.password,
      }),
    );
  });

  it('fails a wrong SCRAM password with KAFKA_AUTH_FAILED naming the user, never the password', async () => {
    const error = await connectFailure({
      KAFKA_BROKERS: at(broker.ports.scram),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: broker.users.scram.username,
      KAFKA_SASL_PASSWORD: 'wrong-scram-password',
    });
    expect(error.code).toBe('KAFKA_AUTH_FAILED');
    expect(error.message).toMatch(/rejected the SASL credentials of user "alice" with scram-sha-512/);
    expect(error.message).toContain('KAFKA_SASL_PASSWORD');
    expect(error.message).not.toContain('wrong-scram-password');
  });

  it('fails a wrong PLAIN password over TLS with KAFKA_AUTH_FAILED, never showing the password', async () => {
    const error = await connectFailure({
      KAFKA_BROKERS: at(broker.ports.plainSsl),
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: broker.users.plain.username,
      KAFKA_SASL_PASSWORD: 'wrong-plain-password',
    });
    expect(error.code).toBe('KAFKA_AUTH_FAILED');
    expect(error.message).toMatch(/rejected the SASL credentials of user "bob" with plain/);
    expect(error.message).not.toContain('wrong-plain-password');
  });

  it('refuses a broker whose certificate an untrusted CA signed', async () => {
    for (const ca of [{ KAFKA_SSL_CA_FILE: broker.files.rogueCa }, {}]) {
      const error = await connectFailure({ KAFKA_BROKERS: at(broker.ports.ssl), KAFKA_SSL: 'true', ...ca });
      expect(error.code).toBe('KAFKA_AUTH_FAILED');
      expect(error.message).toMatch(
        /certificate of the Kafka broker .* is not trusted: check KAFKA_SSL_CA_FILE/,
      );
      expect(error.message).toMatch(/self-signed certificate in certificate chain/);
    }
  });

  it('is refused by a mutual-TLS listener without a client certificate', async () => {
    const error = await connectFailure({
      KAFKA_BROKERS: at(broker.ports.mtls),
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
    });
    expect(error.code).toBe('KAFKA_AUTH_FAILED');
    expect(error.message).toMatch(
      /refused the connection \(TLS alert \d+, [a-z ]+\): no client certificate is configured; this listener requires mutual TLS: set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE/,
    );
  });

  // Issue 15: a mutual-TLS listener refusing a client certificate from a CA it does not trust
  // answers with TLS alert 46 (certificate unknown), which used to fall through to "the broker
  // certificate is not trusted: check KAFKA_SSL_CA_FILE", blaming the wrong side.
  it('blames the client certificate, not the broker, when the broker does not trust its CA', async () => {
    const error = await connectFailure({
      KAFKA_BROKERS: at(broker.ports.mtls),
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
      KAFKA_SSL_CERT_FILE: broker.files.rogueClientCert,
      KAFKA_SSL_KEY_FILE: broker.files.rogueClientKey,
    });
    expect(error.code).toBe('KAFKA_AUTH_FAILED');
    expect(error.message).toMatch(
      /refused the client certificate \(TLS alert 46, certificate unknown\): it is not signed by a CA the broker trusts; check KAFKA_SSL_CERT_FILE/,
    );
    expect(error.message).not.toMatch(/certificate of the Kafka broker|KAFKA_SSL_CA_FILE/);
    expect(error.context.variable).toBe('KAFKA_SSL_CERT_FILE');
  });

  // Issue 15: an expired broker certificate was reported as an untrusted one ("check
  // KAFKA_SSL_CA_FILE"); no client setting fixes it.
  it("says the broker's certificate needs renewing when it has expired", async () => {
    const error = await connectFailure({
      KAFKA_BROKERS: at(broker.ports.expiredSsl),
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
    });
    expect(error.code).toBe('KAFKA_AUTH_FAILED');
    expect(error.message).toMatch(
      /certificate of the Kafka broker .* has expired: the broker's certificate needs renewing/,
    );
    expect(error.message).not.toMatch(/check KAFKA_SSL_CA_FILE/);
    expect(error.context.variable).toBeUndefined();
    expect(error.context.fix).toMatch(/renew the Kafka broker's TLS certificate/);
  });

  it('says to set KAFKA_SSL when a plaintext client meets a TLS listener, and the reverse', async () => {
    const plain = await connectFailure({ KAFKA_BROKERS: at(broker.ports.ssl) });
    expect(plain.code).toBe('KAFKA_UNAVAILABLE');
    expect(plain.message).toMatch(/set KAFKA_SSL=true/);
    const tls = await connectFailure({
      KAFKA_BROKERS: at(broker.ports.scram),
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
    });
    expect(tls.code).toBe('KAFKA_UNAVAILABLE');
    expect(tls.message).toMatch(/did not complete a TLS handshake; .* set KAFKA_SSL=false/);
  });

  it('connects to an untrusted broker only when KAFKA_SSL_REJECT_UNAUTHORIZED=false', async () => {
    await roundTrip(
      bridgeKafka({
        KAFKA_BROKERS: at(broker.ports.ssl),
        KAFKA_SSL: 'true',
        KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
      }),
    );
  });
});

/**
 * Apicurio authenticates only through OIDC, so basic auth is checked by a proxy in front of it
 * that demands the credentials, forwards authenticated requests and records what it saw.
 */
const registryUser = { username: 'registry-user', password: `registry-secret-${randomUUID().slice(0, 8)}` };
const registryProxy = {
  url: '',
  seen: [] as (string | undefined)[],
  subjects: [] as string[],
};
let proxy: Server;

async function startRegistryProxy(): Promise<void> {
  const upstream = new URL(inject('services').schemaRegistryUrl);
  const expected = `Basic ${Buffer.from(`${registryUser.username}:${registryUser.password}`).toString('base64')}`;
  proxy = createServer((req, res) => {
    registryProxy.seen.push(req.headers.authorization);
    if (req.headers.authorization !== expected) {
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Basic realm="registry"',
      });
      res.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }));
      return;
    }
    const headers: IncomingHttpHeaders = { ...req.headers, host: upstream.host };
    delete headers.authorization;
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  registryProxy.url = `http://127.0.0.1:${address.port}${upstream.pathname}`;
}

async function stopRegistryProxy(): Promise<void> {
  if (proxy === undefined) return;
  const upstream = inject('services').schemaRegistryUrl.replace(/\/$/, '');
  // Cleanup goes straight to Apicurio: soft delete, then permanent.
  for (const subject of registryProxy.subjects) {
    const base = `${upstream}/subjects/${encodeURIComponent(subject)}`;
    await fetch(base, { method: 'DELETE' }).catch(() => {});
    await fetch(`${base}?permanent=true`, { method: 'DELETE' }).catch(() => {});
  }
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
}

describe('schema registry basic auth', () => {
  const user = registryUser;
  const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const seen = registryProxy.seen;

  const schema = JSON.stringify({
    type: 'record',
    name: 'AuthProbe',
    namespace: 'io.gongbridge.test',
    fields: [{ name: 'id', type: 'string' }],
  });

  it('sends Basic credentials, the password read from SCHEMA_REGISTRY_PASSWORD_FILE', async () => {
    const options = registryClientOptions(
      loadConfig({
        SCHEMA_REGISTRY_URL: registryProxy.url,
        SCHEMA_REGISTRY_USERNAME: user.username,
        SCHEMA_REGISTRY_PASSWORD_FILE: await secretFile(user.password),
      }),
    );
    const registry = new SchemaRegistry(options);
    const subject = `security-${randomUUID().slice(0, 8)}-value`;
    registryProxy.subjects.push(subject);
    seen.length = 0;
    const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject });
    const encoded = await registry.encode(id, { id: 'x' });
    expect(await registry.decode(encoded)).toEqual({ id: 'x' });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((header) => header === expected)).toBe(true);
  });

  it('fails clearly with 401 without credentials or with a wrong password', async () => {
    const cases: Env[] = [
      { SCHEMA_REGISTRY_URL: registryProxy.url },
      {
        SCHEMA_REGISTRY_URL: registryProxy.url,
        SCHEMA_REGISTRY_USERNAME: user.username,
        SCHEMA_REGISTRY_PASSWORD: 'nope-nope',
      },
    ];
    for (const env of cases) {
      const registry = new SchemaRegistry(registryClientOptions(loadConfig(env)));
      const subject = `security-${randomUUID().slice(0, 8)}-value`;
      const failure = await registry.register({ type: SchemaType.AVRO, schema }, { subject }).then(
        (): Error & { status?: number } => new Error('registered without valid credentials'),
        (error: unknown) => error as Error & { status?: number },
      );
      expect(failure.status).toBe(401);
      expect(failure.message).toMatch(/Unauthorized/);
      expect(failure.message).not.toContain('nope-nope');
    }
  });
});

/**
 * The commands as an operator runs them: real processes whose only configuration is the
 * environment, with passwords in *_FILE variables the way Kubernetes mounts secrets.
 */
describe('commands over secured connections', () => {
  const topic = `security-cmd-${randomUUID().slice(0, 8)}`;
  let sandbox: RunningSandbox;
  const outputs: string[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({
      accessKey: 'bridge-key',
      accessKeySecret: 'bridge-key-secret',
      rps: 100,
      daily: 0,
    });
    registryProxy.subjects.push(`${topic}-value`);
  });

  afterAll(async () => {
    await sandbox?.close();
  });

  async function registryEnv(): Promise<Env> {
    return {
      KAFKA_TOPICS: topic,
      SCHEMA_REGISTRY_URL: registryProxy.url,
      SCHEMA_REGISTRY_USERNAME: registryUser.username,
      SCHEMA_REGISTRY_PASSWORD_FILE: await secretFile(registryUser.password),
      GONG_BASE_URL: sandbox.url,
      GONG_ACCESS_KEY: 'bridge-key',
      GONG_ACCESS_KEY_SECRET_FILE: await secretFile('bridge-key-secret'),
    };
  }

  function command(
    args: string[],
    env: Env,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['src/cli/main.ts', ...args], {
        cwd: repoRoot,
        // Only what the test sets: nothing from the shell's environment leaks into the config.
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => {
        outputs.push(stdout, stderr);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('produce-sample writes Avro records over SASL/SCRAM-SHA-512 through an authenticated registry', async () => {
    const result = await command(
      ['produce-sample', '--count', '10', '--create-topic', '--partitions', '1', '--json'],
      {
        ...(await registryEnv()),
        KAFKA_BROKERS: `127.0.0.1:${broker.ports.scram}`,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: broker.users.scram.username,
        KAFKA_SASL_PASSWORD_FILE: await secretFile(broker.users.scram.password),
      },
    );
    expect(result.code, result.stderr).toBe(0);
  });

  it('doctor passes every Kafka and registry check over mutual TLS, creating the DLQ', async () => {
    const result = await command(['doctor', '--json', '--create-dlq'], {
      ...(await registryEnv()),
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.mtls}`,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
      KAFKA_SSL_CERT_FILE: broker.files.clientCert,
      KAFKA_SSL_KEY_FILE: broker.files.clientKey,
    });
    const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; detail: string }[] };
    const status = Object.fromEntries(report.checks.map((check) => [check.id, check.status]));
    expect(status, result.stdout).toMatchObject({
      config: 'ok',
      kafka: 'ok',
      topics: 'ok',
      dlq: 'ok',
      group: 'ok',
      registry: 'ok',
      subjects: 'ok',
    });
  });

  it('replay-dlq reads the dead-letter topic over SASL/PLAIN on TLS', async () => {
    const result = await command(['replay-dlq', '--dry-run', '--json'], {
      ...(await registryEnv()),
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.plainSsl}`,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: broker.users.plain.username,
      KAFKA_SASL_PASSWORD_FILE: await secretFile(broker.users.plain.password),
    });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  it('run delivers every record over SASL/PLAIN on TLS, then stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['src/cli/main.ts', 'run'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...(await registryEnv()),
        KAFKA_BROKERS: `127.0.0.1:${broker.ports.plainSsl}`,
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: broker.files.ca,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: broker.users.plain.username,
        KAFKA_SASL_PASSWORD_FILE: await secretFile(broker.users.plain.password),
        KAFKA_GROUP_ID: `security-run-${randomUUID().slice(0, 8)}`,
        GONG_RATE_PER_SECOND: '100',
        COMMIT_INTERVAL_MS: '200',
        HTTP_PORT: '0',
        // The most verbose level, so the no-password check below covers every log line.
        LOG_LEVEL: 'trace',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(
        'the 10 sample records to reach the sandbox',
        () => sandbox.stats().accepted >= 10,
        60_000,
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, output.slice(-3_000)).toBe(0);
    outputs.push(output);
    expect(sandbox.stats().accepted).toBe(10);
    // The password check is only worth something if the run actually logged its work.
    expect(output.split('\n').length).toBeGreaterThan(20);
  });

  // Issue 15: replay-dlq let KAFKA_AUTH_FAILED escape as "internal error" with a stack trace
  // (exit 70); a wrong password is a configuration error.
  it('replay-dlq with a wrong SASL password exits 3 with one line naming the setting', async () => {
    const result = await command(['replay-dlq', '--dry-run'], {
      ...(await registryEnv()),
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.scram}`,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: broker.users.scram.username,
      KAFKA_SASL_PASSWORD: 'not-alices-password',
    });
    expect(result.code, result.stderr).toBe(3);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toEqual([
      expect.stringMatching(
        /^gong-bridge replay-dlq: Kafka rejected the SASL credentials of user "alice" .*KAFKA_SASL_PASSWORD/,
      ),
    ]);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('doctor, on the expired broker certificate, says to renew it and blames no setting', async () => {
    const result = await command(['doctor', '--json'], {
      ...(await registryEnv()),
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.expiredSsl}`,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.ca,
    });
    const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; fix?: string }[] };
    const kafka = report.checks.find((check) => check.id === 'kafka');
    expect(kafka?.status).toBe('fail');
    expect(kafka?.fix).toMatch(/^renew the Kafka broker's TLS certificate/);
  });

  it('doctor fails the Kafka check on a wrong password and says which setting to fix', async () => {
    const result = await command(['doctor', '--json'], {
      ...(await registryEnv()),
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.scram}`,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: broker.users.scram.username,
      KAFKA_SASL_PASSWORD_FILE: await secretFile('not-alices-password'),
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; detail: string }[] };
    const kafka = report.checks.find((check) => check.id === 'kafka');
    expect(kafka?.status).toBe('fail');
    expect(kafka?.detail).toMatch(/SASL credentials .*KAFKA_SASL_PASSWORD/);
  });

  it('never prints a password, in any command output above', () => {
    expect(outputs.length).toBeGreaterThan(0);
    const printed = outputs.join('\n');
    for (const secret of [
      broker.users.scram.password,
      broker.users.plain.password,
      registryUser.password,
      'bridge-key-secret',
      'not-alices-password',
    ]) {
      expect(printed).not.toContain(secret);
    }
  });
});
