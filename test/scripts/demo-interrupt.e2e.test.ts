import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/bridge.ts';
import { localRun, make as makeCommand, scratch, type LocalRun } from '../helpers/local-setup.ts';
import { program, requires } from '../helpers/requirements.ts';

/**
 * `make demo` interrupted by one Ctrl-C while the bridge has calls in flight, three ways: piped
 * through tee (tee dies with the same Ctrl-C, and the cleanup used to die of SIGPIPE with exit 141,
 * leaving Kafka, Apicurio and Redis up), plain (the bridge got the terminal's SIGINT and the
 * script's SIGTERM and took the second as "exit at once", without draining), and in a real
 * terminal under tmux. Every case must drain the bridge (its log ends with `gong-bridge stopped`,
 * nothing in flight), end the way an interrupted make ends (130), and leave no process behind:
 * every process the demo starts, the stack's included, inherits a marker variable, and none may
 * remain. Each demo has its own stack (state dir and free ports) and starts and stops it itself.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A demo with enough events that one Ctrl-C lands while the bridge still has calls in flight. */
const demo = (name: string) => localRun(name, { DEMO_EVENTS: '300' });

/** Waits until the bridge has delivered a few events, i.e. it is mid-stream with calls in flight. */
async function deliveringNow(run: LocalRun, output: () => string): Promise<void> {
  const accepted = async () => {
    try {
      const stats = (await (await fetch(`${run.sandboxUrl}/_sandbox/stats`)).json()) as { accepted: number };
      return stats.accepted;
    } catch {
      return 0;
    }
  };
  await waitFor(
    `the demo's bridge to deliver (output so far:\n${output().slice(-2_000)})`,
    async () => (await accepted()) >= 6,
    420_000,
    500,
  );
}

interface Stopped {
  readonly status: number;
  readonly output: string;
}

async function settle(run: LocalRun, stopped: Stopped): Promise<void> {
  const bridgeLog = readFileSync(join(run.stackDir, 'demo', 'bridge.log'), 'utf8');
  const lines = bridgeLog
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; stats?: { inFlight: number; commits: number } });
  const context = `${stopped.output.slice(-3_000)}\n--- bridge.log ---\n${bridgeLog.slice(-3_000)}`;
  expect(
    lines.some((line) => line.msg === 'stopping: draining in-flight records'),
    context,
  ).toBe(true);
  const last = lines.at(-1);
  expect(last?.msg, context).toBe('gong-bridge stopped');
  expect(last?.stats?.inFlight, context).toBe(0);
  expect(last?.stats?.commits, context).toBeGreaterThan(0);
  expect(stopped.output, context).toContain('Stopping what the demo started');
  expect(stopped.output, context).toContain('bridge: stopped');
  expect(stopped.output, context).toContain('local stack');
  expect(stopped.status, context).toBe(130);
  // Everything the demo started has already exited when it returns; a moment's grace for the
  // kernel to reap what the stack's stop waited for.
  await waitFor('no process of the demo left', () => run.leftovers().length === 0, 10_000, 250).catch(() =>
    expect(run.leftovers()).toEqual([]),
  );
}

function collect(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return () => output;
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : 15))),
  );
}

/** Kills what is left of a process group after a failed case. */
function killGroup(group: ChildProcess): void {
  if (group.pid === undefined || group.exitCode !== null || group.signalCode !== null) return;
  try {
    process.kill(-group.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A Ctrl-C in a terminal: SIGINT to every process of the foreground process group. */
function ctrlC(group: ChildProcess): void {
  if (group.pid !== undefined) process.kill(-group.pid, 'SIGINT');
}

const needsTerminal = requires(program('tmux', 'apt-get install tmux', ['-V']));

describe('make demo stopped by one Ctrl-C', () => {
  it('plain: the bridge drains, and everything the demo started stops', async () => {
    const run = await demo('plain');
    const make = spawn('bash', ['-c', `exec ${makeCommand} demo`], {
      cwd: root,
      env: run.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collect(make);
    const exited = exitOf(make);
    try {
      await deliveringNow(run, output);
      ctrlC(make);
      await settle(run, { status: await exited, output: output() });
    } finally {
      killGroup(make);
    }
  });

  it('piped through tee: tee dies with the Ctrl-C, and the cleanup still runs to the end', async () => {
    const run = await demo('tee');
    const log = scratch('tee-x.log');
    const status = scratch('tee-status');
    // The wrapper shell plays the interactive shell's part: it survives the Ctrl-C (a trap, which
    // its children do not inherit) and records make's own exit status.
    const shell = spawn(
      'bash',
      ['-c', `trap true INT; ${makeCommand} demo | tee "${log}"; echo "\${PIPESTATUS[0]}" > "${status}"`],
      { cwd: root, env: run.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = collect(shell);
    const exited = exitOf(shell);
    try {
      await deliveringNow(run, output);
      ctrlC(shell);
      await exited;
      await settle(run, { status: Number(readFileSync(status, 'utf8').trim()), output: output() });
      expect(readFileSync(log, 'utf8')).toContain('5/5 Live progress');
    } finally {
      killGroup(shell);
    }
  });

  it(
    'in a terminal (tmux sends C-c): the bridge drains, and everything the demo started stops',
    needsTerminal,
    async () => {
      const run = await demo('tmux');
      const socket = `gong-bridge-${run.marker.slice(0, 8)}`;
      const log = scratch('tmux-terminal.log');
      const status = scratch('tmux-status');
      // The tmux server itself must not carry the marker (it outlives the demo until kill-server),
      // so the marker goes into the pane's command instead of the server's environment.
      const { LOCAL_RUN_MARKER: _marker, ...inherited } = run.env;
      // The pane runs its command with the server's default shell: bash, whatever $SHELL says.
      const serverEnv = { ...inherited, SHELL: '/bin/bash' };
      const tmux = (...args: string[]) => {
        const result = spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], {
          env: serverEnv,
          encoding: 'utf8',
        });
        if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
      };
      try {
        const command = `export LOCAL_RUN_MARKER=${run.marker}; trap true INT; ${makeCommand} demo; echo $? > "${status}"`;
        tmux('new-session', '-d', '-s', 'demo', '-x', '200', '-y', '50', '-c', root, command);
        tmux('pipe-pane', '-t', 'demo', '-o', `cat >> "${log}"`);
        const output = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
        await deliveringNow(run, output);
        tmux('send-keys', '-t', 'demo', 'C-c');
        await waitFor(
          'the demo in tmux to end',
          () => existsSync(status) && readFileSync(status, 'utf8').trim() !== '',
          240_000,
          250,
        );
        await settle(run, { status: Number(readFileSync(status, 'utf8').trim()), output: output() });
      } finally {
        spawnSync('tmux', ['-L', socket, 'kill-server']);
      }
    },
  );
});
