import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/**
 * `gong-bridge run` as a process of its own, for the faults only a process can suffer: SIGKILL
 * (no drain, no commit, no LeaveGroup) and SIGTERM (the real signal path of `run`).
 */
export interface BridgeProcess {
  readonly child: ChildProcess;
  /** Exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export function spawnBridgeProcess(env: Record<string, string>): BridgeProcess {
  const child = spawn(process.execPath, [main, 'run'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => chunks.join(''),
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Waits until `check` holds, failing early with the bridge's output if it exits first. */
export async function whileRunning(
  bridge: BridgeProcess,
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (bridge.child.exitCode !== null || bridge.child.signalCode !== null) {
      throw new Error(
        `the bridge exited (${bridge.child.exitCode}) while waiting for ${what}:\n${bridge.output().slice(-4_000)}`,
      );
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
