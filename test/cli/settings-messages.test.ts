import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

// The settings messages of issue 15 as an operator meets them: real processes whose only
// configuration is the environment given here.

const runnable = {
  KAFKA_BROKERS: '127.0.0.1:1',
  KAFKA_TOPICS: 'interactions',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
  GONG_ACCESS_KEY: 'k',
  GONG_ACCESS_KEY_SECRET: 's',
  HTTP_PORT: '0',
  KAFKA_CONNECTION_TIMEOUT_MS: '500',
};

function stderrLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '' && !/TimeoutNegativeWarning|--trace-warnings/.test(line));
}

describe('gong-bridge run reports its settings', () => {
  it('lists every missing setting in one message and exits 3', async () => {
    const run = await runCli(['run'], undefined, {});
    expect(run.code).toBe(3);
    expect(stderrLines(run.stderr)).toEqual([
      'gong-bridge run: invalid configuration, 4 problems:',
      '  - KAFKA_BROKERS is required for this command but is not set',
      '  - KAFKA_TOPICS is required for this command but is not set',
      '  - SCHEMA_REGISTRY_URL is required for this command but is not set',
      '  - Gong credentials are required: GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_BEARER_TOKEN(_FILE)',
    ]);
  });

  // Issue 15: exited 4 with kafkajs' "Port should be >= 0 and < 65536. Received type number (NaN)".
  it('refuses a broker without a port before connecting, naming KAFKA_BROKERS, exit 3', async () => {
    const run = await runCli(['run'], undefined, { ...runnable, KAFKA_BROKERS: 'localhost' });
    expect(run.code).toBe(3);
    expect(stderrLines(run.stderr)).toEqual([
      'gong-bridge run: invalid configuration: KAFKA_BROKERS: "localhost" is not host:port (for example localhost:9092) (got "localhost")',
    ]);
  });

  it('warns about a misspelt variable before the setting it left missing', async () => {
    const { KAFKA_BROKERS, ...rest } = runnable;
    const run = await runCli(['run'], undefined, { ...rest, KAFKA_BROKER: KAFKA_BROKERS });
    expect(run.code).toBe(3);
    expect(stderrLines(run.stderr)).toEqual([
      'gong-bridge run: warning: KAFKA_BROKER is not a gong-bridge setting and is ignored; did you mean KAFKA_BROKERS?',
      'gong-bridge run: invalid configuration: KAFKA_BROKERS is required for this command but is not set',
    ]);
  });

  it('logs a warning at start-up for unverified broker certificates and for misspelt variables', async () => {
    const run = await runCli(['run'], undefined, {
      ...runnable,
      KAFKA_SSL: 'true',
      KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
      MAX_INFLIGHT: '8',
    });
    // Nothing listens on port 1: the run then fails, after the warnings.
    expect(run.code).toBe(4);
    const warnings = run.lines.filter((line) => line.event === 'config-warning');
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 'warn',
        variable: 'MAX_INFLIGHT',
        msg: 'MAX_INFLIGHT is not a gong-bridge setting and is ignored; did you mean MAX_IN_FLIGHT?',
      }),
      expect.objectContaining({
        level: 'warn',
        variable: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
        msg: expect.stringMatching(
          /^KAFKA_SSL_REJECT_UNAUTHORIZED=false: the Kafka broker certificate is not verified/,
        ),
      }),
    ]);
  });
});

describe('gong-bridge config', () => {
  const env = {
    ...runnable,
    SCHEMA_REGISTRY_URL: 'https://reg-user:registry-url-secret@registry.example.com/apis/ccompat/v7',
    GONG_ACCESS_KEY_SECRET: 'gong-secret-value',
    KAFKA_BROKER: 'typo:9092',
  };

  it('prints every setting, its value and its source, with secrets and URL credentials hidden', async () => {
    const run = await runCli(['config'], undefined, env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Kafka\n/);
    expect(run.stdout).toMatch(/^ {2}KAFKA_BROKERS +127\.0\.0\.1:1 +environment$/m);
    expect(run.stdout).toMatch(/^ {2}KAFKA_GROUP_ID +gong-bridge +default$/m);
    expect(run.stdout).toMatch(/^ {2}GONG_ACCESS_KEY_SECRET +\[redacted\] +environment$/m);
    expect(run.stdout).toMatch(
      /^ {2}SCHEMA_REGISTRY_URL +https:\/\/\*\*\*@registry\.example\.com\/apis\/ccompat\/v7 +environment$/m,
    );
    expect(run.stdout).toContain(
      '! KAFKA_BROKER is not a gong-bridge setting and is ignored; did you mean KAFKA_BROKERS?',
    );
    expect(run.stdout).not.toMatch(/registry-url-secret|gong-secret-value/);
  });

  it('--json has one entry per setting; an invalid one exits 3 with the problem', async () => {
    const run = await runCli(['config', '--json', '--set'], undefined, { ...env, MAX_IN_FLIGHT: '0' });
    expect(run.code).toBe(3);
    const report = run.lines[0] as {
      ok: boolean;
      settings: { name: string; source: string; value: unknown; problem?: string }[];
      problems: string[];
      warnings: { variable: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.settings.every((setting) => setting.source === 'environment')).toBe(true);
    expect(report.settings.find((setting) => setting.name === 'MAX_IN_FLIGHT')).toMatchObject({
      value: '0',
      problem: expect.stringMatching(/^MAX_IN_FLIGHT: /),
    });
    expect(report.problems).toHaveLength(1);
    expect(report.warnings.map((warning) => warning.variable)).toEqual(['KAFKA_BROKER']);
    expect(run.stdout).not.toMatch(/registry-url-secret|gong-secret-value/);
  });
});

describe('help and unknown commands', () => {
  it('gong-bridge help run prints the help of run', async () => {
    const [viaHelp, viaFlag] = await Promise.all([runCli(['help', 'run']), runCli(['run', '--help'])]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toMatch(/^Usage: gong-bridge run\n/);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  it('suggests the nearest command for a typo, also after help', async () => {
    for (const args of [['runn'], ['help', 'runn']]) {
      const run = await runCli(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        'gong-bridge: unknown command "runn". Did you mean "run"? Run gong-bridge --help.\n',
      );
    }
  });
});

describe('gong-bridge doctor', () => {
  it('marks the configuration check with ! when broker certificates are not verified', async () => {
    const run = await runCli(['doctor', '--json', '--timeout', '500'], undefined, {
      ...runnable,
      GONG_BASE_URL: 'http://127.0.0.1:1',
      KAFKA_SSL: 'true',
      KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
    });
    const report = run.lines[0] as { checks: { id: string; status: string; detail: string }[] };
    const config = report.checks.find((check) => check.id === 'config');
    expect(config?.status).toBe('warn');
    expect(config?.detail).toMatch(
      /KAFKA_SSL_REJECT_UNAUTHORIZED=false: the Kafka broker certificate is not verified/,
    );
  });
});
