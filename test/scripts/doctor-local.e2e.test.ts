import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { localRun, make as makeCommand } from '../helpers/local-setup.ts';

/**
 * `make doctor` as a newcomer meets it: nothing running, nothing configured. It used to fail three
 * checks (KAFKA_TOPICS not set; Gong pointing at api.gong.io; "Failed to find group coordinator"
 * right after the stack came up, reported as an ACL problem). It must now set up what the demo
 * uses (the stack, a Gong sandbox, a topic with its subject), pass every check including the
 * sandbox's credentials, and stop what it started.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('make doctor on a machine with nothing running', () => {
  it('passes every check, and stops the stack and the sandbox it started', async () => {
    const run = await localRun('doctor');
    const make = spawn('bash', ['-c', `exec ${makeCommand} doctor`], {
      cwd: root,
      env: run.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    make.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    make.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => make.once('exit', (exit) => resolve(exit)));
    const context = `${stdout}\n--- stderr ---\n${stderr}`;
    expect(code, context).toBe(0);
    const checks = stdout.split('\n').filter((line) => /^[✓✗!-] /.test(line));
    expect(
      checks.filter((line) => !line.startsWith('✓')),
      context,
    ).toEqual([]);
    expect(
      checks.map((line) => line.slice(2, line.indexOf(':'))),
      context,
    ).toEqual([
      'configuration parses',
      'Kafka brokers answer',
      'input topics exist',
      'dead-letter topic',
      'consumer group readable',
      'schema registry answers',
      'registry subjects exist',
      'mappings fit their schemas',
      'Redis answers',
      'Gong reachable',
      'Gong accepts the credentials',
    ]);
    expect(stdout).toContain(`Gong reachable: ${run.sandboxUrl} answered`);
    expect(run.leftovers(), context).toEqual([]);
  });
});
