import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor, type CheckResult } from '../../src/doctor/checks.ts';
import { startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.ts';

// A platform engineer's usual first failures are TLS and SASL settings. Doctor must name the
// setting to change, not print kafkajs' "Closed connection", and must never echo the password.

let broker: SecureKafka;

beforeAll(async () => {
  broker = await startSecureKafka();
}, 180_000);

afterAll(async () => {
  await broker?.stop();
});

async function kafkaCheck(env: Record<string, string>): Promise<CheckResult> {
  const results = await runDoctor({
    env: {
      KAFKA_TOPICS: 'doctor-security',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
      GONG_BASE_URL: 'http://127.0.0.1:1',
      GONG_ACCESS_KEY: 'k',
      GONG_ACCESS_KEY_SECRET: 's',
      KAFKA_CONNECTION_TIMEOUT_MS: '3000',
      ...env,
    },
    timeoutMs: 5000,
    gongAuth: false,
    createDlq: false,
  });
  return results.find((result) => result.id === 'kafka')!;
}

describe('doctor on TLS and SASL listeners', () => {
  it('passes with the right SCRAM credentials', async () => {
    const check = await kafkaCheck({
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.scram}`,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: broker.users.scram.username,
      KAFKA_SASL_PASSWORD: broker.users.scram.password,
    });
    expect(check.status).toBe('ok');
  });

  it('a wrong SASL password names KAFKA_SASL_PASSWORD and does not print it', async () => {
    const check = await kafkaCheck({
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.scram}`,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: broker.users.scram.username,
      KAFKA_SASL_PASSWORD: 'not-the-password',
    });
    expect(check.status).toBe('fail');
    expect(check.detail).toContain('rejected the SASL credentials');
    expect(check.fix).toBe('check KAFKA_SASL_PASSWORD (docs/reference/configuration.md)');
    expect(JSON.stringify(check)).not.toContain('not-the-password');
  });

  it('plaintext against a TLS listener points at KAFKA_SSL', async () => {
    const check = await kafkaCheck({ KAFKA_BROKERS: `127.0.0.1:${broker.ports.ssl}` });
    expect(check.status).toBe('fail');
    expect(check.fix).toBe('check KAFKA_SSL (docs/reference/configuration.md)');
  });

  it('TLS with a CA that did not sign the broker points at KAFKA_SSL_CA_FILE', async () => {
    const check = await kafkaCheck({
      KAFKA_BROKERS: `127.0.0.1:${broker.ports.ssl}`,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: broker.files.rogueCa,
    });
    expect(check.status).toBe('fail');
    expect(check.fix).toBe('check KAFKA_SSL_CA_FILE (docs/reference/configuration.md)');
  });
});
