import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from './run-cli.ts';

const valid = JSON.stringify({
  eventId: 'e1',
  timestamp: '2025-01-31T12:00:00Z',
  eventType: 'page viewed',
  content: { contentTitle: 'Pricing' },
  trackingId: 'trk-1',
});

describe('gong-bridge check-payload', () => {
  it('reports every line of a valid file as valid and exits 0', async () => {
    const run = await runCli(['check-payload', 'test/fixtures/gong-bodies.valid.jsonl']);
    const count = readFileSync(`${repoRoot}test/fixtures/gong-bodies.valid.jsonl`, 'utf8')
      .trim()
      .split('\n').length;
    expect(run.code).toBe(0);
    expect(run.lines).toEqual(
      Array.from({ length: count }, (_, index) => ({ line: index + 1, valid: true })),
    );
    expect(run.stderr).toBe('');
  });

  it('reports every line of the invalid fixture with path errors and exits 1', async () => {
    const run = await runCli(['check-payload', 'test/fixtures/gong-bodies.invalid.jsonl']);
    expect(run.code).toBe(1);
    expect(run.lines.length).toBeGreaterThan(0);
    for (const line of run.lines) {
      expect(line.valid).toBe(false);
      expect((line.errors as string[]).every((error) => /^[\w.[\]()]+: /.test(error))).toBe(true);
    }
    expect(run.lines[0]).toEqual({
      line: 1,
      valid: false,
      errors: [
        'content.numericContentDetails.value: must be a 32-bit integer (-2147483648..2147483647), got 5.5',
        'content.numericContentDetails.rangeTo: required',
      ],
    });
    // Every line breaks a rule Gong documents: none of them is an inferred rule's error.
    for (const line of run.lines)
      expect((line.errors as string[]).join('\n')).not.toContain('[inferred rule');
  });

  describe('rules Gong does not document', () => {
    const fixture = 'test/fixtures/gong-bodies.inferred.jsonl';
    const lineCount = readFileSync(`${repoRoot}${fixture}`, 'utf8').trim().split('\n').length;

    it('are warnings by default: the lines are valid, each names its rule, exit 0', async () => {
      const run = await runCli(['check-payload', fixture], undefined, {});
      expect(run.code).toBe(0);
      expect(run.lines).toHaveLength(lineCount);
      for (const line of run.lines) {
        expect(line).toEqual({
          line: line.line,
          valid: true,
          warnings: [expect.stringMatching(/^[\w.[\]]+: .+ \[inferred rule [a-z-]+\]$/)],
          inferredRules: [expect.any(String)],
        });
        expect((line.warnings as string[])[0]).toContain(
          `[inferred rule ${(line.inferredRules as string[])[0]}]`,
        );
      }
      expect(new Set(run.lines.map((line) => (line.inferredRules as string[])[0])).size).toBe(lineCount);
    });

    it('are errors with --inferred-rules reject or GONG_INFERRED_RULES=reject, exit 1', async () => {
      for (const run of [
        await runCli(['check-payload', fixture, '--inferred-rules', 'reject'], undefined, {}),
        await runCli(['check-payload', fixture], undefined, { GONG_INFERRED_RULES: 'reject' }),
      ]) {
        expect(run.code).toBe(1);
        expect(run.lines.every((line) => line.valid === false && line.warnings === undefined)).toBe(true);
      }
      const overridden = await runCli(['check-payload', fixture, '--inferred-rules', 'send'], undefined, {
        GONG_INFERRED_RULES: 'reject',
      });
      expect(overridden.code).toBe(0);
    });

    it('GONG_INFERRED_RULES_REJECT makes only the listed rules errors', async () => {
      const run = await runCli(['check-payload', fixture], undefined, {
        GONG_INFERRED_RULES_REJECT: 'steps-not-empty,unknown-field',
      });
      expect(run.code).toBe(1);
      const invalid = run.lines.filter((line) => line.valid === false);
      expect(invalid.map((line) => line.inferredRules)).toEqual([['steps-not-empty'], ['unknown-field']]);
    });

    it('takes the limits from GONG_MAX_STRING_LENGTH and GONG_MAX_LIST_ITEMS', async () => {
      const input = `${JSON.stringify({ ...JSON.parse(valid), content: { contentTitle: 'Pricing in 2025', contentLabel: ['a', 'b'] } })}\n`;
      const run = await runCli(['check-payload'], input, {
        GONG_MAX_STRING_LENGTH: '12',
        GONG_MAX_LIST_ITEMS: '1',
      });
      expect(run.code).toBe(1);
      expect(run.lines[0]!.errors).toEqual([
        'content.contentTitle: must be at most 12 characters (GONG_MAX_STRING_LENGTH)',
        'content.contentLabel: must have at most 1 items (GONG_MAX_LIST_ITEMS)',
      ]);
    });

    it.each([
      [
        'an unknown --inferred-rules mode',
        ['--inferred-rules', 'warn'],
        {},
        2,
        /--inferred-rules must be one of send, reject/,
      ],
      [
        'an unknown rule in GONG_INFERRED_RULES_REJECT',
        [],
        { GONG_INFERRED_RULES_REJECT: 'range' },
        3,
        /GONG_INFERRED_RULES_REJECT/,
      ],
    ])('refuses %s', async (_label, args, env, code, message) => {
      const run = await runCli(['check-payload', fixture, ...args], undefined, env);
      expect(run.code).toBe(code);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
    });
  });

  it('reads stdin, skips blank lines but keeps their numbers, and flags non-JSON lines', async () => {
    const input = [
      valid,
      '',
      '   ',
      '{not json',
      JSON.stringify({ ...JSON.parse(valid), device: 'TV' }),
      valid,
    ].join('\n');
    const run = await runCli(['check-payload'], `${input}\n`);
    expect(run.code).toBe(1);
    expect(run.lines).toEqual([
      { line: 1, valid: true },
      { line: 4, valid: false, errors: [expect.stringMatching(/^\(root\): not valid JSON: /)] },
      { line: 5, valid: false, errors: ['device: must be one of MOBILE, PC, got "TV"'] },
      { line: 6, valid: true },
    ]);
  });

  it('treats "-" as stdin and handles CRLF line endings and a missing final newline', async () => {
    const run = await runCli(['check-payload', '-'], `${valid}\r\n${valid}`);
    expect(run.code).toBe(0);
    expect(run.lines).toEqual([
      { line: 1, valid: true },
      { line: 2, valid: true },
    ]);
  });

  it('exits 0 with no output for empty input', async () => {
    const run = await runCli(['check-payload'], '');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
  });

  it.each([
    [
      'a missing file',
      ['check-payload', 'test/fixtures/does-not-exist.jsonl'],
      /cannot read .*does-not-exist/,
    ],
    ['a directory', ['check-payload', 'test/fixtures'], /cannot read test\/fixtures/],
    ['an unknown flag', ['check-payload', '--strict'], /unknown option --strict \(see --help\)/],
    ['two files', ['check-payload', 'a.jsonl', 'b.jsonl'], /at most one FILE/],
  ])('exits 2 on %s, with one line on stderr and nothing on stdout', async (_label, args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('prints help with examples', async () => {
    const run = await runCli(['check-payload', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: gong-bridge check-payload \[FILE\]/);
    expect(run.stdout).toMatch(/Examples:/);
  });
});

describe('gong-bridge check-payload | head', () => {
  it('stops quietly when the reader closes the pipe early, instead of an EPIPE internal error', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['src/cli/main.ts', 'check-payload'], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const line = `${valid}\n`;
    // Far more output than a pipe buffer holds, so the writer is still busy when the pipe closes.
    const writeInput = () => {
      for (let index = 0; index < 200; index++) child.stdin.write(line.repeat(500));
      child.stdin.end();
    };
    child.stdin.on('error', () => {});
    child.stdout.once('data', () => child.stdout.destroy());
    writeInput();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/internal error/);
    expect(code).toBe(0);
  });
});
