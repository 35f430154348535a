import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';

/**
 * A dedicated, throw-away Kafka broker with every security mode the bridge supports, so the TLS
 * and SASL settings are proven against the real protocol implementation instead of mocks. The
 * shared local stack stays plaintext because other suites depend on it; this broker runs from the
 * same cached classpath (.tools/kafka-<version>.classpath), in its own temp dir, on free ports.
 *
 * Listeners (all on 127.0.0.1):
 * - `plaintext`: for the helper's own admin work and inter-broker traffic;
 * - `ssl`: one-way TLS, the server certificate signed by a CA generated here;
 * - `mtls`: TLS with `ssl.client.auth=required`;
 * - `scram`: SASL_PLAINTEXT with SCRAM-SHA-512, credentials written at format time;
 * - `plainSsl`: SASL_SSL with PLAIN;
 * - `expiredSsl`: one-way TLS whose server certificate, signed by the same CA, has expired.
 */
export interface SecureKafka {
  readonly ports: {
    plaintext: number;
    ssl: number;
    mtls: number;
    scram: number;
    plainSsl: number;
    expiredSsl: number;
  };
  /**
   * PEM files generated for this broker. `rogueCa` signed nothing the broker presents or trusts;
   * it did sign `rogueClientCert`, a client certificate the mTLS listener must refuse.
   */
  readonly files: {
    ca: string;
    clientCert: string;
    clientKey: string;
    rogueCa: string;
    rogueClientCert: string;
    rogueClientKey: string;
  };
  readonly users: { scram: Credentials; plain: Credentials };
  readonly dir: string;
  /** Last lines of the broker log, for failure messages. */
  logTail(lines?: number): Promise<string>;
  /** SIGKILL, as a crash or a pulled plug looks to clients; the data stays. */
  kill(): Promise<void>;
  /** Starts the broker again on the same ports and data, after kill(); resolves once it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const host = '127.0.0.1';
const scramUser: Credentials = { username: 'alice', password: 'alice-secret' };
const plainUser: Credentials = { username: 'bob', password: 'bob-secret' };
// Only the broker's keystore needs a password (PKCS12 requires one); clients use plain PEM.
const keystorePassword = 'broker-keystore-pass';

export async function startSecureKafka(
  options: {
    version?: string;
    /** Turn on ACLs (StandardAuthorizer), allowing everything no ACL mentions, so a test can deny one thing. */
    authorizer?: boolean;
    /** Partitions of __consumer_offsets (default 1); more make the group coordinator take longer to start. */
    offsetsTopicPartitions?: number;
  } = {},
): Promise<SecureKafka> {
  const version = options.version ?? process.env.KAFKA_VERSION ?? '4.1.1';
  const classpath = (await readFile(join(root, '.tools', `kafka-${version}.classpath`), 'utf8')).trim();
  const dir = await mkdtemp(join(tmpdir(), 'gong-bridge-secure-kafka-'));
  let child: ChildProcess | undefined;
  try {
    const files = await makeCertificates(dir);
    const ports = {
      plaintext: await freePort(),
      ssl: await freePort(),
      mtls: await freePort(),
      scram: await freePort(),
      plainSsl: await freePort(),
      expiredSsl: await freePort(),
    };
    const controllerPort = await freePort();
    const properties = join(dir, 'server.properties');
    await writeFile(
      properties,
      brokerProperties(dir, ports, controllerPort, options.offsetsTopicPartitions ?? 1) +
        (options.authorizer === true
          ? 'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\nallow.everyone.if.no.acl.found=true\n'
          : ''),
    );

    const java = [
      '-Xms128m',
      '-Xmx384m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
    ];
    const { stdout } = await run('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid']);
    const clusterId = stdout.trim().split('\n').at(-1) ?? '';
    await run('java', [
      ...java,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '-t',
      clusterId,
      '-c',
      properties,
      // KRaft keeps SCRAM credentials in the metadata log, so they are written before first start.
      '--add-scram',
      `SCRAM-SHA-512=[name=${scramUser.username},password=${scramUser.password}]`,
    ]);

    const log = join(dir, 'kafka.log');
    const launch = async (): Promise<ChildProcess> => {
      const fd = openSync(log, 'a');
      const broker = spawn('java', [...java, '-cp', classpath, 'kafka.Kafka', properties], {
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      await waitForBroker(ports.plaintext, broker, log);
      return broker;
    };
    child = await launch();
    let current: ChildProcess = child;

    return {
      ports,
      files,
      users: { scram: scramUser, plain: plainUser },
      dir,
      logTail: (lines = 40) => tail(log, lines),
      kill: async () => {
        if (current.exitCode !== null || current.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
        current.kill('SIGKILL');
        await exited;
      },
      restart: async () => {
        current = await launch();
      },
      stop: async () => {
        await stopProcess(current);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (child !== undefined) await stopProcess(child);
    const logText = await tail(join(dir, 'kafka.log'), 30).catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`secure Kafka did not start: ${String(error)}\n${logText}`, { cause: error });
  }
}

function brokerProperties(
  dir: string,
  ports: SecureKafka['ports'],
  controllerPort: number,
  offsetsTopicPartitions: number,
): string {
  const plainJaas =
    'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
    `user_${plainUser.username}="${plainUser.password}";`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${host}:${controllerPort}`,
    `listeners=PLAINTEXT://${host}:${ports.plaintext},SSL://${host}:${ports.ssl},MTLS://${host}:${ports.mtls},` +
      `SCRAM://${host}:${ports.scram},PLAINSSL://${host}:${ports.plainSsl},EXPIRED://${host}:${ports.expiredSsl},` +
      `CONTROLLER://${host}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${host}:${ports.plaintext},SSL://${host}:${ports.ssl},MTLS://${host}:${ports.mtls},` +
      `SCRAM://${host}:${ports.scram},PLAINSSL://${host}:${ports.plainSsl},EXPIRED://${host}:${ports.expiredSsl}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SCRAM:SASL_PLAINTEXT,PLAINSSL:SASL_SSL,' +
      'EXPIRED:SSL,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `ssl.keystore.type=PKCS12`,
    `ssl.keystore.location=${join(dir, 'broker.p12')}`,
    `ssl.keystore.password=${keystorePassword}`,
    `ssl.key.password=${keystorePassword}`,
    // The CA file is the truststore for client certificates on the mTLS listener.
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${join(dir, 'ca.pem')}`,
    'listener.name.mtls.ssl.client.auth=required',
    // Its own keystore: the same host names and CA, but a certificate that expired yesterday.
    'listener.name.expired.ssl.keystore.type=PKCS12',
    `listener.name.expired.ssl.keystore.location=${join(dir, 'expired.p12')}`,
    `listener.name.expired.ssl.keystore.password=${keystorePassword}`,
    `listener.name.expired.ssl.key.password=${keystorePassword}`,
    'listener.name.scram.sasl.enabled.mechanisms=SCRAM-SHA-512',
    'listener.name.scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.plainssl.sasl.enabled.mechanisms=PLAIN',
    `listener.name.plainssl.plain.sasl.jaas.config=${plainJaas}`,
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    `offsets.topic.num.partitions=${offsetsTopicPartitions}`,
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

/**
 * A CA, a server certificate for 127.0.0.1/localhost and an expired one, a client certificate,
 * and a rogue CA with a client certificate of its own.
 */
async function makeCertificates(dir: string): Promise<SecureKafka['files']> {
  const path = (name: string) => join(dir, name);
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  const days = ['-days', '2'];
  for (const ca of ['ca', 'rogue-ca']) {
    await openssl([
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...days,
      '-keyout', path(`${ca}.key`), '-out', path(`${ca}.pem`),
      '-subj', `/CN=gong-bridge test ${ca}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]); // prettier-ignore
  }
  const serverExt = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
  const leaves = [
    { name: 'server', cn: 'localhost', ext: serverExt, ca: 'ca', days },
    // OpenSSL 3.0 has no -not_after; a negative validity ends the certificate a day before it began.
    { name: 'expired', cn: 'localhost', ext: serverExt, ca: 'ca', days: ['-days', '-1'] },
    { name: 'client', cn: 'gong-bridge', ext: 'extendedKeyUsage=clientAuth\n', ca: 'ca', days },
    { name: 'rogue-client', cn: 'gong-bridge', ext: 'extendedKeyUsage=clientAuth\n', ca: 'rogue-ca', days },
  ];
  for (const leaf of leaves) {
    await writeFile(path(`${leaf.name}.ext`), leaf.ext);
    await openssl([
      'req', '-new', '-newkey', 'rsa:2048', '-nodes',
      '-keyout', path(`${leaf.name}.key`), '-out', path(`${leaf.name}.csr`), '-subj', `/CN=${leaf.cn}`,
    ]); // prettier-ignore
    await openssl([
      'x509', '-req', '-in', path(`${leaf.name}.csr`), '-CA', path(`${leaf.ca}.pem`), '-CAkey', path(`${leaf.ca}.key`),
      '-CAcreateserial', ...leaf.days, '-extfile', path(`${leaf.name}.ext`), '-out', path(`${leaf.name}.pem`),
    ]); // prettier-ignore
  }
  for (const [leaf, keystore] of [
    ['server', 'broker'],
    ['expired', 'expired'],
  ] as const) {
    await openssl([
      'pkcs12', '-export', '-in', path(`${leaf}.pem`), '-inkey', path(`${leaf}.key`), '-certfile', path('ca.pem'),
      '-name', 'broker', '-out', path(`${keystore}.p12`), '-passout', `pass:${keystorePassword}`,
    ]); // prettier-ignore
  }
  return {
    ca: path('ca.pem'),
    clientCert: path('client.pem'),
    clientKey: path('client.key'),
    rogueCa: path('rogue-ca.pem'),
    rogueClientCert: path('rogue-client.pem'),
    rogueClientKey: path('rogue-client.key'),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function waitForBroker(port: number, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `broker exited (code ${String(code)}, signal ${String(signal)})`;
  });
  const kafka = kafkaClient({
    clientId: 'secure-kafka-probe',
    brokers: [`${host}:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    retry: { retries: 0 },
  });
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${exited}\n${await tail(log, 30)}`);
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  throw new Error(`broker not ready on port ${port} within 90 s`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function tail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').slice(-lines).join('\n');
}
