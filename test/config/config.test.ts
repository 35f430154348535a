import { describe, expect, it } from 'vitest';
import { runConfigChecks } from '../../src/cli/commands/run.ts';
import { loadConfig, settingSource } from '../../src/config/config.ts';
import { effectiveConfiguration, redactedValue } from '../../src/config/effective.ts';
import { isHostPort } from '../../src/config/settings.ts';
import { configError } from '../helpers/errors.ts';

describe('loadConfig reports every problem at once', () => {
  // Issue 15: KAFKA_TOPICS, then KAFKA_BROKERS, then the Gong credentials came one run at a time.
  it('lists every setting run needs in one error', () => {
    const error = configError(() => loadConfig({}, { checks: runConfigChecks }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.context.details).toEqual([
      'KAFKA_BROKERS is required for this command but is not set',
      'KAFKA_TOPICS is required for this command but is not set',
      'SCHEMA_REGISTRY_URL is required for this command but is not set',
      expect.stringMatching(/^Gong credentials are required: GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET/),
    ]);
    expect(error.message.split('\n')[0]).toBe('invalid configuration, 4 problems:');
    expect(error.context.variable).toBe('KAFKA_BROKERS');
  });

  it('lists malformed values with missing settings, each variable once', () => {
    const error = configError(() =>
      loadConfig(
        {
          KAFKA_BROKERS: 'localhost',
          MAX_IN_FLIGHT: 'lots',
          GONG_ACCESS_KEY: 'k',
          GONG_ACCESS_KEY_SECRET: 's',
        },
        { checks: runConfigChecks },
      ),
    );
    expect(error.context.details).toEqual([
      'KAFKA_BROKERS: "localhost" is not host:port (for example localhost:9092) (got "localhost")',
      expect.stringMatching(/^MAX_IN_FLIGHT: .* \(got "lots"\)$/),
      'KAFKA_TOPICS is required for this command but is not set',
      'SCHEMA_REGISTRY_URL is required for this command but is not set',
    ]);
  });

  it('keeps the one-line message when there is one problem', () => {
    const error = configError(() => loadConfig({ LOG_LEVEL: 'loud' }));
    expect(error.message).toMatch(/^invalid configuration: LOG_LEVEL: .* \(got "loud"\)$/);
  });

  it('reports a secret file that cannot be read with the rest', () => {
    const error = configError(() =>
      loadConfig(
        { GONG_ACCESS_KEY_SECRET_FILE: '/missing', LOG_LEVEL: 'loud' },
        {
          readFile: () => {
            throw new Error('ENOENT');
          },
        },
      ),
    );
    expect(error.context.details).toEqual([
      'GONG_ACCESS_KEY_SECRET_FILE: cannot read /missing',
      expect.stringMatching(/^LOG_LEVEL: /),
    ]);
  });

  it('never quotes the credentials of a URL setting that does not parse', () => {
    const error = configError(() =>
      loadConfig({ SCHEMA_REGISTRY_URL: '//reg-user:hunter2-pw@registry:8081/apis' }),
    );
    expect(error.message).not.toContain('hunter2-pw');
    expect(error.message).toContain('(got "//***@registry:8081/apis")');
  });
});

describe('KAFKA_BROKERS must be host:port', () => {
  it.each([
    ['localhost:9092', true],
    ['kafka-1.example.com:9093', true],
    ['10.0.0.7:9092', true],
    ['[::1]:9092', true],
    ['localhost', false],
    ['localhost:', false],
    ['localhost:0', false],
    ['localhost:70000', false],
    ['kafka://localhost:9092', false],
    ['::1:9092', false],
  ])('%s → %s', (entry, valid) => {
    expect(isHostPort(entry)).toBe(valid);
  });

  it('names the variable and the bad entry among good ones', () => {
    const error = configError(() => loadConfig({ KAFKA_BROKERS: 'kafka-1:9092,kafka-2' }));
    expect(error.message).toBe(
      'invalid configuration: KAFKA_BROKERS: "kafka-2" is not host:port (for example kafka-2:9092) (got "kafka-1:9092,kafka-2")',
    );
    expect(error.context.variable).toBe('KAFKA_BROKERS');
  });
});

describe('the effective configuration', () => {
  const files: Record<string, string> = { '/run/secrets/sasl': 'sasl-file-secret\n' };
  const readFile = (path: string) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };
  const env = {
    KAFKA_BROKERS: 'kafka:9092',
    KAFKA_TOPICS: 'interactions',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'alice',
    KAFKA_SASL_PASSWORD_FILE: '/run/secrets/sasl',
    SCHEMA_REGISTRY_URL: 'https://reg-user:registry-url-secret@registry.example.com/apis/ccompat/v7',
    GONG_ACCESS_KEY: 'access-key-value',
    GONG_ACCESS_KEY_SECRET: 'access-key-secret-value',
    REDIS_URL: 'redis://:redis-url-secret@redis:6379',
    LOG_LEVEL: '',
  };
  const effective = effectiveConfiguration(env, readFile);
  const row = (name: string) => effective.settings.find((entry) => entry.name === name);

  it('lists every setting with its value and where it came from', () => {
    expect(effective.problems).toEqual([]);
    expect(effective.settings.length).toBeGreaterThan(50);
    expect(row('KAFKA_BROKERS')).toMatchObject({ value: ['kafka:9092'], source: 'environment' });
    expect(row('KAFKA_GROUP_ID')).toMatchObject({ value: 'gong-bridge', source: 'default' });
    expect(row('LOG_LEVEL')).toMatchObject({ value: 'info', source: 'default' });
    expect(row('KAFKA_SASL_PASSWORD')).toMatchObject({
      value: redactedValue,
      source: 'file',
      from: 'KAFKA_SASL_PASSWORD_FILE',
    });
    expect(row('GONG_BEARER_TOKEN')).toMatchObject({ value: null, source: 'unset' });
    expect(row('KAFKA_DLQ_TOPIC')).toMatchObject({
      value: null,
      source: 'default',
      defaultDoc: '<first input topic>.dlq',
    });
  });

  it('redacts secrets and the credentials of URLs', () => {
    expect(row('GONG_ACCESS_KEY')?.value).toBe(redactedValue);
    expect(row('SCHEMA_REGISTRY_URL')?.value).toBe('https://***@registry.example.com/apis/ccompat/v7');
    expect(row('REDIS_URL')?.value).toBe('redis://***@redis:6379');
    const printed = JSON.stringify(effective);
    for (const secret of [
      'sasl-file-secret',
      'registry-url-secret',
      'access-key-value',
      'access-key-secret-value',
      'redis-url-secret',
    ])
      expect(printed).not.toContain(secret);
  });

  it('marks an invalid setting and lists the problem', () => {
    const bad = effectiveConfiguration({ KAFKA_BROKERS: 'localhost', GONG_BEARER_TOKEN: 'x' }, readFile);
    expect(bad.problems).toEqual([expect.stringMatching(/^KAFKA_BROKERS: "localhost" is not host:port/)]);
    expect(bad.settings.find((entry) => entry.name === 'KAFKA_BROKERS')).toMatchObject({
      value: 'localhost',
      problem: expect.stringMatching(/^KAFKA_BROKERS:/),
    });
  });

  it('settingSource tells a _FILE secret from the environment', () => {
    expect(settingSource({ REDIS_URL_FILE: '/f' }, 'REDIS_URL')).toBe('file');
    expect(settingSource({ REDIS_URL: 'redis://r:6379' }, 'REDIS_URL')).toBe('environment');
    expect(settingSource({}, 'REDIS_URL')).toBe('unset');
    expect(settingSource({ HTTP_PORT: '' }, 'HTTP_PORT')).toBe('default');
  });
});
