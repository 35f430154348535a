import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { CallRecord } from './call-log.ts';
import type { FaultPatch } from './faults.ts';

/**
 * The sandbox in a process of its own, as Gong would be: in-process it shares the event loop
 * with the client under test, which hides the client's cost and the server's own delays (a freshly
 * started server handles its first calls slowly, which a strict server's arrival times show).
 * For benchmarks and the tests that need that separation; `startSandbox` is the in-process one.
 */
export interface SandboxProcess {
  readonly url: string;
  /** The call log, oldest first. */
  calls(): Promise<CallRecord[]>;
  setFaults(patch: FaultPatch): Promise<void>;
  /** GET (or POST) any control endpoint such as /_sandbox/stats and parse its JSON. */
  json<T>(path: string, method?: 'GET' | 'POST'): Promise<T>;
  close(): Promise<void>;
}

/** `args` are `gong-bridge sandbox` flags; `--port 0` is added. */
export async function startSandboxProcess(args: readonly string[]): Promise<SandboxProcess> {
  const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main, 'sandbox', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening on (\S+)/.exec(seen);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${String(code)}`)));
  });
  const control = async (path: string, body?: unknown) => {
    const answer = await fetch(`${url}/_sandbox/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!answer.ok) throw new Error(`sandbox ${path} answered ${answer.status}: ${await answer.text()}`);
    return answer.json() as Promise<unknown>;
  };
  return {
    url,
    calls: async () => ((await control('calls?limit=100000')) as { calls: CallRecord[] }).calls,
    setFaults: async (patch) => {
      await control('faults', patch);
    },
    async json<T>(path: string, method: 'GET' | 'POST' = 'GET') {
      const answer = await fetch(`${url}${path}`, { method });
      if (!answer.ok) throw new Error(`sandbox ${path} answered ${answer.status}: ${await answer.text()}`);
      return (await answer.json()) as T;
    },
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
