import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../src/config/config.ts';
import {
  explainKafkaError,
  kafkaClientConfig,
  registryClientOptions,
} from '../../src/wiring/kafka-connection.ts';
import { configError } from '../helpers/errors.ts';

const files: Record<string, string> = { '/ca.pem': 'CA PEM', '/cert.pem': 'CERT PEM', '/key.pem': 'KEY PEM' };
const readFile = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: ${path}`);
  return text;
};
const build = (env: Env) =>
  kafkaClientConfig(loadConfig({ KAFKA_BROKERS: 'b1:9093, b2:9093', ...env }), readFile);

describe('kafkaClientConfig', () => {
  it('builds a plaintext client with no ssl or sasl keys at all', () => {
    const config = build({});
    expect(config.brokers).toEqual(['b1:9093', 'b2:9093']);
    expect(config.clientId).toBe('gong-bridge');
    expect(config.connectionTimeout).toBe(10_000);
    expect(config).not.toHaveProperty('ssl');
    expect(config).not.toHaveProperty('sasl');
  });

  it('reads the CA, certificate and key files and verifies the broker by default', () => {
    const config = build({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/ca.pem',
      KAFKA_SSL_CERT_FILE: '/cert.pem',
      KAFKA_SSL_KEY_FILE: '/key.pem',
    });
    expect(config.ssl).toEqual({
      rejectUnauthorized: true,
      ca: ['CA PEM'],
      cert: 'CERT PEM',
      key: 'KEY PEM',
    });
  });

  it('passes the SASL mechanism and credentials', () => {
    const config = build({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: 's3cret',
    });
    expect(config.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'alice', password: 's3cret' });
  });

  // Regression guard: a CA file with KAFKA_SSL unset used to be easy to miss, and the bridge
  // would then connect in plaintext to a listener that happened to accept it.
  it('refuses TLS files while KAFKA_SSL is false rather than silently connecting in plaintext', () => {
    const error = configError(() => build({ KAFKA_SSL_CA_FILE: '/ca.pem' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.context.variable).toBe('KAFKA_SSL_CA_FILE');
  });

  it('needs both halves of a client certificate', () => {
    const error = configError(() => build({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/cert.pem' }));
    expect(error.context.variable).toBe('KAFKA_SSL_KEY_FILE');
  });

  it('names the variable whose file cannot be read', () => {
    const error = configError(() => build({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/missing.pem' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe('KAFKA_SSL_CA_FILE: cannot read /missing.pem');
  });

  it('needs a password for a SASL mechanism, and a mechanism for SASL credentials', () => {
    expect(
      configError(() => build({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'bob' })).context
        .variable,
    ).toBe('KAFKA_SASL_PASSWORD');
    expect(configError(() => build({ KAFKA_SASL_USERNAME: 'bob' })).context.variable).toBe(
      'KAFKA_SASL_MECHANISM',
    );
  });

  it('needs KAFKA_BROKERS', () => {
    expect(configError(() => kafkaClientConfig(loadConfig({}), readFile)).context.variable).toBe(
      'KAFKA_BROKERS',
    );
  });
});

describe('registryClientOptions', () => {
  const url = 'https://registry.example.com/apis/ccompat/v7';

  it('adds basic auth only when a user is configured', () => {
    expect(registryClientOptions(loadConfig({ SCHEMA_REGISTRY_URL: url }))).toEqual({ host: url });
    expect(
      registryClientOptions(
        loadConfig({
          SCHEMA_REGISTRY_URL: url,
          SCHEMA_REGISTRY_USERNAME: 'u',
          SCHEMA_REGISTRY_PASSWORD: 'p',
        }),
      ),
    ).toEqual({ host: url, auth: { username: 'u', password: 'p' } });
  });

  it('refuses half of the credentials', () => {
    const error = configError(() =>
      registryClientOptions(loadConfig({ SCHEMA_REGISTRY_URL: url, SCHEMA_REGISTRY_PASSWORD: 'p' })),
    );
    expect(error.context.variable).toBe('SCHEMA_REGISTRY_USERNAME');
    expect(error.message).not.toContain('p"');
  });
});

describe('explainKafkaError', () => {
  const config = loadConfig({
    KAFKA_BROKERS: 'b1:9093',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'alice',
    KAFKA_SASL_PASSWORD: 'hunter2',
  });

  it('keeps the cause and falls back to KAFKA_UNAVAILABLE for what it cannot classify', () => {
    const cause = new Error('Connection timeout');
    const error = explainKafkaError(cause, config);
    expect(error.code).toBe('KAFKA_UNAVAILABLE');
    expect(error.retriable).toBe(true);
    expect(error.cause).toBe(cause);
  });

  it('never repeats the password, even when the broker echoes it', () => {
    const cause = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: bad password hunter2'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    const error = explainKafkaError(cause, config);
    expect(error.code).toBe('KAFKA_AUTH_FAILED');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).toContain('[redacted]');
  });
});
