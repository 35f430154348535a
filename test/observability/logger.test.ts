import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { secretSettingNames } from '../../src/config/settings.ts';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { LocalLimiter } from '../../src/delivery/rate-limit/local-limiter.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { BridgeError } from '../../src/errors.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { gongClientOptionsFromConfig } from '../../src/wiring/gong-client.ts';
import { bindDeliveryLogs, bindLimiterLogs } from '../../src/observability/log-bindings.ts';
import { createLogger, redactedText, secretValues } from '../../src/observability/logger.ts';
import { startSandbox } from '../../src/sandbox/server.ts';
import { sampleBody } from '../delivery/helpers.ts';

/** Collects what pino writes, one parsed JSON object per line, plus the raw text. */
function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

// Every secret setting, with characters that JSON and URLs escape, so each form is exercised.
const secrets = {
  GONG_ACCESS_KEY: 'AK-7f3a9c1e5b',
  GONG_ACCESS_KEY_SECRET: 'sk/"quote"\\slash+plus=9',
  KAFKA_SASL_PASSWORD: 'sasl-p@ss:word',
  SCHEMA_REGISTRY_PASSWORD: 'registry-pw-4411',
  REDIS_URL: 'redis://bridge:r3d%40s-pw@redis.internal:6379/0',
};
const env = {
  ...secrets,
  KAFKA_SASL_USERNAME: 'bridge',
  SCHEMA_REGISTRY_USERNAME: 'bridge-reader',
  LOG_LEVEL: 'trace',
};

function assertNoSecret(text: string) {
  for (const value of secretValues(loadConfig(env))) expect(text, `leaked ${value}`).not.toContain(value);
  // The Basic header as it goes on the wire, and the raw decoded Redis password.
  expect(text).not.toContain(
    Buffer.from(`${secrets.GONG_ACCESS_KEY}:${secrets.GONG_ACCESS_KEY_SECRET}`).toString('base64'),
  );
  expect(text).not.toContain('r3d@s-pw');
  expect(text).not.toContain('r3d%40s-pw');
}

describe('createLogger', () => {
  it('covers every setting flagged secret', () => {
    expect(new Set(secretSettingNames)).toEqual(
      new Set([
        'KAFKA_SASL_PASSWORD',
        'SCHEMA_REGISTRY_PASSWORD',
        'GONG_ACCESS_KEY',
        'GONG_ACCESS_KEY_SECRET',
        'GONG_BEARER_TOKEN',
        'REDIS_URL',
      ]),
    );
    const values = secretValues(
      loadConfig({
        ...env,
        GONG_ACCESS_KEY: undefined,
        GONG_ACCESS_KEY_SECRET: undefined,
        GONG_BEARER_TOKEN: 'bearer-token-xyz',
      }),
    );
    expect(values).toContain('bearer-token-xyz');
  });

  it('redacts secrets by path and by value at trace, inside messages, errors and their causes', () => {
    const config = loadConfig(env);
    const out = capture();
    const logger = createLogger({ config, destination: out.stream });
    logger.info({ config }, 'starting');
    logger.trace(
      { request: { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } } },
      'call',
    );
    logger.debug(
      { sasl: { mechanism: 'plain', username: 'bridge', password: secrets.KAFKA_SASL_PASSWORD } },
      'kafka',
    );
    const cause = new Error(`auth failed for ${secrets.GONG_ACCESS_KEY}:${secrets.GONG_ACCESS_KEY_SECRET}`);
    logger.error(
      { err: new BridgeError('REDIS_UNAVAILABLE', `cannot reach ${secrets.REDIS_URL}`, { cause }) },
      `redis down (password r3d@s-pw) registry ${secrets.SCHEMA_REGISTRY_PASSWORD}`,
    );
    logger.child({ token: 'child-binding-token' }).warn('from a child');

    const text = out.text();
    assertNoSecret(text);
    expect(text).not.toContain('child-binding-token');
    const lines = out.lines();
    expect(lines).toHaveLength(5);
    const start = lines[0] as { config: Record<string, unknown>; msg: string };
    expect(start.config.GONG_ACCESS_KEY).toBe(redactedText);
    expect(start.config.KAFKA_SASL_USERNAME).toBe('bridge');
    expect(
      (lines[1] as { request: { headers: { authorization: string } } }).request.headers.authorization,
    ).toBe(redactedText);
    expect((lines[3] as { err: { message: string } }).err.message).toContain(redactedText);
  });

  it('keeps PII unless LOG_REDACT_PII is on', () => {
    const body = {
      ...sampleBody(1),
      person: { name: 'Ada Lovelace', email: 'ada@example.com', phoneNumber: '+44 20 7946 0000' },
    };
    const plain = capture();
    createLogger({ config: loadConfig({ LOG_LEVEL: 'debug' }), destination: plain.stream }).debug(
      { body },
      'b',
    );
    expect(plain.text()).toContain('ada@example.com');

    const redacted = capture();
    createLogger({
      config: loadConfig({ LOG_LEVEL: 'debug', LOG_REDACT_PII: 'true' }),
      destination: redacted.stream,
    }).debug({ body, email: 'top@example.com' }, 'b');
    const line = redacted.lines()[0] as {
      body: { person: Record<string, string>; eventId: string };
      email: string;
    };
    expect(line.body.person).toEqual({ name: redactedText, email: redactedText, phoneNumber: redactedText });
    expect(line.email).toBe(redactedText);
    expect(line.body.eventId).toBe('evt-1');
  });

  it('leaves no secret in any line of a full delivery run at LOG_LEVEL=trace, auth failure included', async () => {
    const sandbox = await startSandbox({
      accessKey: 'other-key',
      accessKeySecret: 'other-secret',
      rps: 0,
      daily: 0,
    });
    try {
      const config = loadConfig({ ...env, GONG_BASE_URL: sandbox.url, GONG_AUTH_PROBE_INTERVAL_MS: '100' });
      const out = capture();
      const logger = createLogger({ config, destination: out.stream });
      logger.info({ config }, 'gong-bridge starting');
      const limiter = new LocalLimiter({
        ratePerSecond: 50,
        dailyLimit: 10_000,
        dailyWindow: 'rolling',
        clock: systemClock,
        sleep: systemSleep,
      });
      const client = createGongClient(gongClientOptionsFromConfig(config, systemClock));
      const engine = createDeliveryEngine({
        client,
        limiter,
        clock: systemClock,
        sleep: systemSleep,
        maxBodyBytes: 1_000_000,
        authProbeIntervalMs: 100,
      });
      bindDeliveryLogs(engine.events, logger);
      bindLimiterLogs(limiter, logger);

      // The sandbox does not know our key: the first call halts delivery, then the probe fails.
      const abort = new AbortController();
      const pending = engine.deliver(sampleBody('halted'), { signal: abort.signal });
      await new Promise<void>((resolve) => engine.events.on('auth-probe', () => resolve()));
      abort.abort();
      await expect(pending).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
      engine.close();
      await client.close();
      await limiter.close();

      const lines = out.lines();
      const events = lines.map((line) => line.event);
      expect(events).toContain('auth-failed');
      expect(events).toContain('call');
      expect(events).toContain('acquired');
      assertNoSecret(out.text());
    } finally {
      await sandbox.close();
    }
  });
});
