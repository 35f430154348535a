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

export interface KillDrill {
  readonly env: Record<string, string>;
  readonly kills: number;
  /** Valid events produced: each kill waits for its share of them to be accepted. */
  readonly valid: number;
  /** Events the Gong sandbox has accepted so far. */
  accepted(): number;
  /** What the last bridge waits for before its SIGTERM, and its name in a timeout message. */
  readonly done: { readonly what: string; check(): Promise<boolean> };
  /** Processes alive, for the test's cleanup to SIGKILL if the drill fails half-way. */
  readonly running: Set<BridgeProcess>;
}

/**
 * The kill -9 drill of the SIGKILL scenarios: `kills` bridges one after another, each SIGKILLed
 * once the sandbox has accepted its share of the valid events (so the kills spread over the
 * delivery whatever the machine's speed), then one more bridge that runs until `done` and stops on
 * SIGTERM. Returns what was accepted at each kill, every process's output, and the last exit code.
 */
export async function killDuringDelivery(
  drill: KillDrill,
): Promise<{ killedAfter: number[]; outputs: string[]; lastExitCode: number | null; lastOutput: string }> {
  const spawnTracked = () => {
    const bridge = spawnBridgeProcess(drill.env);
    drill.running.add(bridge);
    return bridge;
  };
  const killedAfter: number[] = [];
  const outputs: string[] = [];
  for (let round = 1; round <= drill.kills; round++) {
    const bridge = spawnTracked();
    const target = Math.floor((drill.valid * round) / (drill.kills + 1));
    await whileRunning(bridge, `${target} events delivered`, () => drill.accepted() >= target, 300_000, 20);
    await bridge.kill('SIGKILL');
    killedAfter.push(drill.accepted());
    drill.running.delete(bridge);
    outputs.push(bridge.output());
  }
  const last = spawnTracked();
  await whileRunning(last, drill.done.what, () => drill.done.check(), 300_000, 500);
  const lastExitCode = await last.kill('SIGTERM');
  drill.running.delete(last);
  outputs.push(last.output());
  return { killedAfter, outputs, lastExitCode, lastOutput: last.output() };
}
