import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.ts';
import { doctorCommand } from '../../src/cli/commands/doctor.ts';

// The checklist must read the same in a log file as on a terminal: glyphs always, colour codes
// only on a TTY and never with NO_COLOR. No service is needed: the settings fail to parse and
// Gong points at a closed local port, so every network check is skipped or refused at once.

async function runDoctor(args: string[], options: { tty: boolean; env?: Record<string, string> }) {
  const stdout = Object.assign(new PassThrough(), { isTTY: options.tty });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const io: CliIo = {
    stdin: new PassThrough(),
    stdout,
    stderr,
    env: { GONG_BASE_URL: 'http://127.0.0.1:1', ...options.env },
    cwd: process.cwd(),
    signal: new AbortController().signal,
  };
  const code = await doctorCommand.run(args, io);
  return { code, out, err };
}

describe('gong-bridge doctor output', () => {
  it('prints ✓/✗ without colour codes when stdout is not a terminal, with the fix under each ✗', async () => {
    const { code, out } = await runDoctor(['--timeout', '1000'], { tty: false });
    expect(code).toBe(1);
    expect(out).not.toContain('\u001b[');
    const lines = out.split('\n');
    const configLine = lines.findIndex((line) => line.startsWith('✗ configuration parses: '));
    expect(lines[configLine]).toContain('KAFKA_BROKERS is required');
    expect(lines[configLine + 1]).toMatch(/^ {4}fix: set KAFKA_BROKERS/);
    expect(out).toContain('- Kafka brokers answer: needs valid Kafka settings');
    expect(out).toContain('✓ Redis answers: not set');
    expect(out).toMatch(/\d+ checks failed\.\n$/);
  });

  it('colours the glyphs on a terminal, unless NO_COLOR is set', async () => {
    const coloured = await runDoctor(['--timeout', '1000'], { tty: true });
    expect(coloured.out).toContain('\u001b[31m✗\u001b[0m');
    expect(coloured.out).toContain('\u001b[32m✓\u001b[0m');
    const plain = await runDoctor(['--timeout', '1000'], { tty: true, env: { NO_COLOR: '1' } });
    expect(plain.out).not.toContain('\u001b[');
  });

  it('--json prints one object with every check, and no colour even on a terminal', async () => {
    const { code, out } = await runDoctor(['--json', '--timeout', '1000'], { tty: true });
    expect(code).toBe(1);
    const report = JSON.parse(out) as { ok: boolean; checks: { id: string; status: string; fix?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.map((check) => check.id)).toEqual([
      'config',
      'kafka',
      'topics',
      'dlq',
      'group',
      'registry',
      'subjects',
      'mappings',
      'redis',
      'gong',
      'gong-auth',
    ]);
    for (const check of report.checks.filter((entry) => entry.status === 'fail'))
      expect(check.fix).toBeTruthy();
  });

  it('--gong-auth says on stderr that it spends a call', async () => {
    const { err } = await runDoctor(['--gong-auth', '--timeout', '1000'], { tty: false });
    expect(err).toBe('--gong-auth: spending one Gong API call (it counts against the daily quota).\n');
  });
});
