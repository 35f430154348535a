import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { freePort } from './redis.ts';

/**
 * For tests that run the README's own commands (`make demo`, `make doctor`) as a newcomer would:
 * each run gets a local stack of its own (a fresh state dir and free ports, so it starts and stops
 * it itself, next to any stack already running) and a marker variable that every process it starts
 * inherits, however detached (setsid), so a test can tell whether anything was left behind.
 */
export interface LocalRun {
  readonly marker: string;
  /** The whole environment for the command: this process's, minus every setting it could pick up. */
  readonly env: Record<string, string>;
  readonly stackDir: string;
  readonly sandboxUrl: string;
  /** Processes still running with the marker, as "pid: command". */
  leftovers(): string[];
}

/**
 * `make` as the tests run it: as the README says, except that the dependencies are taken as
 * installed. A node_modules/.installed older than package.json would otherwise make `make` run
 * `npm ci`, replacing node_modules under the running test ( `make test` installs first anyway).
 */
export const make = 'make -o node_modules/.installed';

const work = mkdtempSync(join(tmpdir(), 'gong-bridge-local-run-'));
const runs: LocalRun[] = [];

// A failed case may leave its processes (its stack) running: they are ours, so they are stopped
// here, by pid; then the state dirs go.
afterAll(() => {
  for (const run of runs)
    for (const found of run.leftovers()) {
      try {
        process.kill(Number(found.split(':')[0]), 'SIGKILL');
      } catch {
        // gone
      }
    }
  rmSync(work, { recursive: true, force: true });
});

/** A scratch directory for the test's own files (logs, status files), removed after the file. */
export function scratch(name: string): string {
  return join(work, name);
}

/** Distinct free ports; the OS may hand the same free port out twice in a row. */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export async function localRun(name: string, extra: Record<string, string> = {}): Promise<LocalRun> {
  const [kafka, controller, proxied, registry, redis, sandbox, http] = await distinctPorts(7);
  const marker = randomUUID();
  const stackDir = join(work, name);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(KAFKA|SCHEMA_REGISTRY|REDIS|GONG|HTTP|LOG|STACK|DEMO|DOCTOR|TOXIPROXY|MAKE|MFLAGS)/.test(key))
      continue;
    env[key] = value;
  }
  Object.assign(env, {
    // Outside the bridge's setting prefixes (GONG_, KAFKA_…), so no command warns about it.
    LOCAL_RUN_MARKER: marker,
    STACK_DIR: stackDir,
    KAFKA_PORT: String(kafka),
    KAFKA_CONTROLLER_PORT: String(controller),
    KAFKA_PROXIED_PORT: String(proxied),
    REGISTRY_PORT: String(registry),
    REDIS_PORT: String(redis),
    DEMO_SANDBOX_PORT: String(sandbox),
    DEMO_HTTP_PORT: String(http),
    ...extra,
  });
  const run: LocalRun = {
    marker,
    env,
    stackDir,
    sandboxUrl: `http://127.0.0.1:${sandbox}`,
    leftovers: () => markedProcesses(marker),
  };
  runs.push(run);
  return run;
}

function markedProcesses(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`LOCAL_RUN_MARKER=${marker}`)) continue;
      found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
