import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { editDistance, nearestName } from '../../src/shared/nearest-name.ts';
import {
  configWarnings,
  insecureSettingWarnings,
  unknownVariableWarnings,
} from '../../src/config/warnings.ts';

describe('unknown variables under our prefixes', () => {
  // Issue 15: a misspelt KAFKA_BROKER was silently ignored.
  it('warns about KAFKA_BROKER and suggests KAFKA_BROKERS', () => {
    expect(unknownVariableWarnings({ KAFKA_BROKER: 'kafka:9092' })).toEqual([
      {
        variable: 'KAFKA_BROKER',
        message: 'KAFKA_BROKER is not a gong-bridge setting and is ignored; did you mean KAFKA_BROKERS?',
      },
    ]);
  });

  it.each([
    ['GONG_ACESS_KEY', 'GONG_ACCESS_KEY'],
    ['SCHEMA_REGISTRY_UR', 'SCHEMA_REGISTRY_URL'],
    ['REDIS_UR', 'REDIS_URL'],
    ['LOG_LEVLE', 'LOG_LEVEL'],
    ['MAX_INFLIGHT', 'MAX_IN_FLIGHT'],
    ['KAFKA_SASL_PASSWORD_FLE', 'KAFKA_SASL_PASSWORD_FILE'],
    ['KAFKA_BOOTSTRAP_SERVERS', 'KAFKA_BROKERS'],
  ])('%s → did you mean %s', (name, suggestion) => {
    const warnings = unknownVariableWarnings({ [name]: 'x' });
    expect(warnings.map((warning) => warning.message)).toEqual([
      `${name} is not a gong-bridge setting and is ignored; did you mean ${suggestion}?`,
    ]);
  });

  it('warns without a suggestion when nothing is close', () => {
    expect(unknownVariableWarnings({ GONG_WORKSPACE_ID: '1' })).toEqual([
      {
        variable: 'GONG_WORKSPACE_ID',
        message:
          'GONG_WORKSPACE_ID is not a gong-bridge setting and is ignored (see docs/reference/configuration.md)',
      },
    ]);
  });

  it('leaves alone known names, other prefixes, Kubernetes service links and the repo scripts knobs', () => {
    expect(
      unknownVariableWarnings({
        KAFKA_BROKERS: 'k:1',
        GONG_ACCESS_KEY_SECRET_FILE: '/f',
        HOME: '/root',
        NODE_OPTIONS: '--x',
        KAFKA_PORT: 'tcp://10.0.0.1:9092',
        KAFKA_PORT_9092_TCP_ADDR: '10.0.0.1',
        KAFKA_SERVICE_HOST: '10.0.0.1',
        KAFKA_SERVICE_PORT_BROKER: '9092',
        REDIS_PORT: '6379',
        KAFKA_VERSION: '4.1.1',
        KAFKA_LINE: '4',
      }),
    ).toEqual([]);
  });
});

describe('settings that weaken security', () => {
  // Issue 15: KAFKA_SSL_REJECT_UNAUTHORIZED=false ran silently.
  it('warns when broker certificates are not verified', () => {
    const config = loadConfig({ KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' });
    expect(insecureSettingWarnings(config)).toEqual([
      {
        variable: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
        message: expect.stringMatching(
          /^KAFKA_SSL_REJECT_UNAUTHORIZED=false: the Kafka broker certificate is not verified/,
        ),
      },
    ]);
  });

  it('warns when SASL/PLAIN sends the password without TLS', () => {
    const config = loadConfig({ KAFKA_SASL_MECHANISM: 'plain' });
    expect(insecureSettingWarnings(config).map((warning) => warning.variable)).toEqual([
      'KAFKA_SASL_MECHANISM',
    ]);
  });

  it('is silent for verified TLS and for SCRAM', () => {
    const config = loadConfig({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512' });
    expect(configWarnings({}, config)).toEqual([]);
  });
});

describe('nearestName', () => {
  it('counts a swapped pair as one edit', () => {
    expect(editDistance('KAFKA_TPOICS', 'KAFKA_TOPICS')).toBe(1);
    expect(editDistance('run', 'run')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests the nearest command, or nothing when none is plausible', () => {
    const commands = ['check-payload', 'config', 'doctor', 'run', 'send', 'status'];
    expect(nearestName('runn', commands)).toBe('run');
    expect(nearestName('doctr', commands)).toBe('doctor');
    expect(nearestName('stauts', commands)).toBe('status');
    expect(nearestName('no-such-command', commands)).toBeUndefined();
    expect(nearestName('x', commands)).toBeUndefined();
  });
});
