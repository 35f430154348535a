import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandNames, repoRoot, runCli } from './run-cli.ts';

// One policy for every registered command, so a new command cannot ship without --help examples
// or with a stack trace for a typo. The list comes from `gong-bridge --help`, which prints every
// entry of the commands map in src/cli/main.ts.

const overview = await runCli(['--help']);
const names = commandNames(overview.stdout);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI with settings that parse, so a usage error is not masked by a configuration error,
 * and kills it if it does not end: a command that ignored a bad argument and started working would
 * otherwise hang the suite.
 */
function runBounded(args: string[], timeoutMs = 15_000): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(KAFKA|SCHEMA_REGISTRY|REDIS|GONG|HTTP|LOG)_/.test(key)) env[key] = value;
  }
  Object.assign(env, {
    KAFKA_BROKERS: '127.0.0.1:1',
    KAFKA_TOPICS: 'cli-policy',
    SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
    GONG_BASE_URL: 'http://127.0.0.1:1',
    GONG_ACCESS_KEY: 'k',
    GONG_ACCESS_KEY_SECRET: 's',
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', ...args], {
      cwd: repoRoot,
      env,
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end();
  });
}

function stderrLines(run: Run): string[] {
  return run.stderr.split('\n').filter((line) => line !== '');
}

describe('every command follows the CLI conventions', () => {
  it('finds the commands in the overview, which documents the exit codes', () => {
    expect(overview.code).toBe(0);
    expect(names).toEqual(
      expect.arrayContaining(['check-payload', 'doctor', 'sandbox', 'send', 'transform']),
    );
    expect(overview.stdout).toContain('Exit codes: 0 ok');
    expect(overview.stdout).toContain('Examples:');
  });

  it('bare gong-bridge exits 2 with the overview', async () => {
    const run = await runBounded([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('Commands:');
  });

  describe.each(names)('gong-bridge %s', (name) => {
    it('--help exits 0 with usage and examples', async () => {
      const run = await runBounded([name, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: gong-bridge /);
      expect(run.stdout).toContain('Example');
    });

    it('an unknown flag exits 2 with one line on stderr and no stack trace', async () => {
      const run = await runBounded([name, '--no-such-flag']);
      expect(run.code).toBe(2);
      expect(stderrLines(run)).toEqual([`gong-bridge ${name}: unknown option --no-such-flag (see --help)`]);
    });

    it('a missing file argument exits 2 with one line naming it', async () => {
      const run = await runBounded([name, '/nonexistent/gong-bridge-missing.jsonl']);
      expect(run.code).toBe(2);
      const lines = stderrLines(run);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^gong-bridge ${name}: .*nonexistent/gong-bridge-missing\\.jsonl`));
      expect(run.stderr).not.toMatch(/\n\s+at /);
    });
  });

  it('an unknown command exits 2 with one line', async () => {
    const run = await runBounded(['no-such-command']);
    expect(run.code).toBe(2);
    expect(stderrLines(run)).toEqual([
      'gong-bridge: unknown command "no-such-command". Run gong-bridge --help.',
    ]);
  });
});
