import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

/**
 * Global setup of the integration and e2e tiers: finds real Kafka, registry and Redis, in this
 * order: explicit KAFKA_BROKERS / SCHEMA_REGISTRY_URL / REDIS_URL; else the local stack
 * (scripts/stack/stack.sh, started if needed, stopped afterwards only if this run started it);
 * else testcontainers when a Docker engine answers.
 */
export interface Services {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  redisUrl: string;
  /** Toxiproxy's API, for network faults (test/helpers/toxiproxy.ts). */
  toxiproxyUrl?: string;
  /**
   * The same broker reached only through Toxiproxy's `kafka` proxy: its listener advertises the
   * proxy's address, so every connection a client makes after bootstrapping also goes through it.
   */
  kafkaProxiedBrokers?: string[];
  source: 'environment' | 'local-stack' | 'testcontainers';
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: Services;
  }
}

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stackScript = join(root, 'scripts', 'stack', 'stack.sh');

function readStackEnv(): Record<string, string> {
  const file = join(process.env.STACK_DIR ?? join(root, '.stack'), 'env');
  const entries = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.includes('='))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
  return Object.fromEntries(entries);
}

function faultProxy(
  env: Record<string, string | undefined>,
): Pick<Services, 'toxiproxyUrl' | 'kafkaProxiedBrokers'> {
  return {
    ...(env.TOXIPROXY_URL ? { toxiproxyUrl: env.TOXIPROXY_URL } : {}),
    ...(env.KAFKA_PROXIED_BROKERS
      ? { kafkaProxiedBrokers: env.KAFKA_PROXIED_BROKERS.split(',').map((broker) => broker.trim()) }
      : {}),
  };
}

async function commandExists(name: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

async function stackIsUp(): Promise<boolean> {
  try {
    await run('bash', [stackScript, 'status']);
    return true;
  } catch {
    return false;
  }
}

async function dockerAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

async function fromTestcontainers(): Promise<{ services: Services; stop: () => Promise<void> }> {
  const { GenericContainer, Network, Wait } = await import('testcontainers');
  const network = await new Network().start();
  // As in the local stack: a second listener reached only through Toxiproxy, advertising the
  // proxy's address (a fixed host port, because the broker must know it before it starts).
  const kafka = await new GenericContainer('apache/kafka:4.1.1')
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withExposedPorts({ container: 19092, host: 19092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093,PROXIED://0.0.0.0:19094',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://localhost:19092,PROXIED://localhost:19095',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_NUM_PARTITIONS: '3',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer('apicurio/apicurio-registry:3.0.9')
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/health/ready', 8080))
    .start();
  const redis = await new GenericContainer('redis:7.4-alpine').withExposedPorts(6379).start();
  const toxiproxy = await new GenericContainer('ghcr.io/shopify/toxiproxy:2.5.0')
    .withNetwork(network)
    .withExposedPorts(8474, { container: 19095, host: 19095 })
    .withWaitStrategy(Wait.forHttp('/version', 8474))
    .start();
  const toxiproxyUrl = `http://${toxiproxy.getHost()}:${toxiproxy.getMappedPort(8474)}`;
  const created = await fetch(`${toxiproxyUrl}/proxies`, {
    method: 'POST',
    body: JSON.stringify({ name: 'kafka', listen: '0.0.0.0:19095', upstream: 'kafka:19094' }),
  });
  if (!created.ok) throw new Error(`toxiproxy: creating the kafka proxy failed with ${created.status}`);
  return {
    services: {
      kafkaBrokers: ['localhost:19092'],
      schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      toxiproxyUrl,
      kafkaProxiedBrokers: ['localhost:19095'],
      source: 'testcontainers',
    },
    stop: async () => {
      await Promise.all([kafka.stop(), registry.stop(), redis.stop(), toxiproxy.stop()]);
      await network.stop();
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  if (env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL && env.REDIS_URL) {
    project.provide('services', {
      kafkaBrokers: env.KAFKA_BROKERS.split(',').map((broker) => broker.trim()),
      schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
      redisUrl: env.REDIS_URL,
      ...faultProxy(env),
      source: 'environment',
    });
    return async () => {};
  }

  const canRunStack =
    (await commandExists('java')) && (await commandExists('redis-server')) && existsSync(stackScript);
  if (canRunStack) {
    const wasUp = await stackIsUp();
    if (!wasUp) await run('bash', [stackScript, 'up'], { maxBuffer: 16 * 1024 * 1024 });
    const stackEnv = readStackEnv();
    project.provide('services', {
      kafkaBrokers: (stackEnv.KAFKA_BROKERS ?? '').split(','),
      schemaRegistryUrl: stackEnv.SCHEMA_REGISTRY_URL ?? '',
      redisUrl: stackEnv.REDIS_URL ?? '',
      ...faultProxy(stackEnv),
      source: 'local-stack',
    });
    return async () => {
      if (!wasUp) await run('bash', [stackScript, 'down']);
    };
  }

  if (await dockerAnswers()) {
    const { services, stop } = await fromTestcontainers();
    project.provide('services', services);
    return stop;
  }

  throw new Error(
    'integration tests need Kafka, a schema registry and Redis: set KAFKA_BROKERS, SCHEMA_REGISTRY_URL and ' +
      'REDIS_URL, or install a JDK 17+, Maven and redis-server for the local stack (make stack-up), or run Docker.',
  );
}
