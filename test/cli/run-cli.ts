import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON Lines (empty when stdout is not JSON, e.g. help). */
  readonly lines: Record<string, unknown>[];
}

/**
 * Runs `node src/cli/main.ts ...args` as a real process, feeding `stdin` when given. `env`
 * replaces the environment (PATH is kept), so a test controls every setting the command sees.
 */
export function runCli(args: string[], stdin?: string, env?: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', ...args], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(env === undefined ? {} : { env: { PATH: process.env.PATH ?? '', ...env } }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        const lines = stdout.startsWith('{')
          ? stdout
              .split('\n')
              .filter((line) => line !== '')
              .map((line) => JSON.parse(line) as Record<string, unknown>)
          : [];
        resolve({ code, stdout, stderr, lines });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stdin.end(stdin ?? '');
  });
}

/** The command names `gong-bridge --help` lists under "Commands:", one entry of main.ts' commands map each. */
export function commandNames(overview: string): string[] {
  return overview
    .slice(overview.indexOf('Commands:\n') + 'Commands:\n'.length)
    .split('\n\n')[0]!
    .split('\n')
    .map((line) => /^ {2}(\S+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}
