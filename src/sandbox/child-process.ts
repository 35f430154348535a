import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

/**
 * The Gong sandbox as a process of its own (`gong-bridge sandbox`), for benchmarks and tests that
 * measure timing: in-process it shares the event loop with the bridge, whose stalls then move the
 * moment the sandbox counts a call, and it hides the client's cost behind its own.
 */
export interface SandboxProcess {
  readonly url: string;
  /** GET (or POST) a control endpoint such as /_sandbox/calls and parse its JSON. */
  json<T>(path: string, method?: 'GET' | 'POST'): Promise<T>;
  close(): Promise<void>;
}

/** Starts the sandbox CLI with `args` (e.g. ['--rps', '3']) on a free port; resolves once it listens. */
export async function spawnSandboxProcess(args: readonly string[]): Promise<SandboxProcess> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('../cli/main.ts', import.meta.url)), 'sandbox', '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening on (\S+)/.exec(seen);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${String(code)}`)));
  });
  return {
    url,
    async json<T>(path: string, method: 'GET' | 'POST' = 'GET') {
      const answer = await request(`${url}${path}`, { method });
      return (await answer.body.json()) as T;
    },
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
