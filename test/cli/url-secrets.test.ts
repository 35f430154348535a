import { describe, expect, it } from 'vitest';
import { urlSettingNames } from '../../src/config/redact.ts';
import { runCli } from './run-cli.ts';

// Issue 15: doctor printed a password inside SCHEMA_REGISTRY_URL or GONG_BASE_URL verbatim, in its
// text and in --json. Every URL setting (read from the catalogue, so a new one is covered) carries
// a secret here, and no output of any command may show it. Nothing listens on port 1, so every
// network step fails at once and quotes the URL in its error, the case most likely to leak.

const schemes: Record<string, string> = { REDIS_URL: 'redis' };

describe.each(urlSettingNames)('a password inside %s', (name) => {
  const secret = `${name.toLowerCase().replaceAll('_', '-')}-password`;
  const url = `${schemes[name] ?? 'http'}://url-user:${secret}@127.0.0.1:1/base`;
  const env = {
    KAFKA_BROKERS: '127.0.0.1:1',
    KAFKA_TOPICS: 'interactions',
    SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
    GONG_BASE_URL: 'http://127.0.0.1:1',
    GONG_ACCESS_KEY: 'k',
    GONG_ACCESS_KEY_SECRET: 's',
    HTTP_PORT: '0',
    KAFKA_CONNECTION_TIMEOUT_MS: '500',
    [name]: url,
  };

  it.each([
    ['doctor', ['doctor', '--timeout', '1000']],
    ['doctor --json', ['doctor', '--json', '--timeout', '1000']],
    ['config', ['config']],
    ['config --json', ['config', '--json']],
    ['run (its logs and its last words)', ['run']],
  ])('is never printed by %s', async (_label, args) => {
    const run = await runCli(args, undefined, env);
    const printed = `${run.stdout}\n${run.stderr}`;
    expect(printed).not.toContain(secret);
    expect(printed).not.toContain(encodeURIComponent(secret));
    // The command did say something about this setting's target, so the check means something.
    expect(printed).toContain('127.0.0.1:1');
  });
});

describe('a password inside a status URL', () => {
  it('is never printed, in the screen or in --json', async () => {
    for (const args of [
      ['status', '--once'],
      ['status', '--json'],
    ]) {
      const run = await runCli(
        [
          ...args,
          '--interval',
          '0.1',
          '--timeout',
          '500',
          'http://scrape-user:status-url-password@127.0.0.1:1/metrics',
        ],
        undefined,
        {},
      );
      expect(run.code).toBe(4);
      expect(run.stdout).toContain('http://***@127.0.0.1:1/metrics');
      expect(`${run.stdout}\n${run.stderr}`).not.toContain('status-url-password');
    }
  });
});
