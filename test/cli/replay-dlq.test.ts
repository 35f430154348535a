import { describe, expect, it } from 'vitest';
import { deadLetterCodes } from '../../src/errors.ts';
import { runCli } from './run-cli.ts';

// Nothing listens on port 1: a --reason check that let the command start would fail differently.
const env = { KAFKA_BROKERS: '127.0.0.1:1', KAFKA_TOPICS: 'replay-reasons' };

describe('replay-dlq --reason', () => {
  it('refuses a code that is never dead-lettered, naming the reasons there are (exit 2)', async () => {
    const run = await runCli(['replay-dlq', '--reason', 'REGISTRY_UNAVAILABLE'], '', env);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `gong-bridge replay-dlq: --reason REGISTRY_UNAVAILABLE: records are never dead-lettered for that; the reasons are ${deadLetterCodes.join(', ')}\n`,
    );
  });

  it('refuses a misspelt reason the same way', async () => {
    const run = await runCli(['replay-dlq', '--reason', 'GONG_INVLID'], '', env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^gong-bridge replay-dlq: --reason GONG_INVLID: that is not a dead-letter reason;/,
    );
  });

  it('lists every dead-letter reason in its help', async () => {
    const run = await runCli(['replay-dlq', '--help']);
    for (const code of deadLetterCodes) expect(run.stdout).toContain(code);
  });
});
