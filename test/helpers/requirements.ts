import { spawnSync } from 'node:child_process';
import type { TestOptions } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Why this test did not run here; scripts/test-summary.ts lists it in the run's closing lines. */
    skipReason?: string;
  }
}

/**
 * The only way a test may be skipped (eslint rejects it.skip, skipIf, runIf and todo in test/):
 * pass the result as the options of `it` or `describe`. The reason travels in the task's meta into
 * vitest's JSON report, where scripts/test-summary.ts prints it after the counts, and with CI=true
 * any skip fails the run there. So a skip is never silent, and never passes CI.
 */
export function skipUnless(met: boolean, reason: string): TestOptions {
  return met ? {} : { skip: true, meta: { skipReason: reason } };
}

export interface Requirement {
  readonly met: boolean;
  /** What is missing and how to get it, for the skip reason. */
  readonly reason: string;
}

/**
 * A program a test runs, looked up the way the test will run it (PATH). `install` says how to get
 * it; scripts/prereqs.sh installs every such tool for `make test`.
 */
export function program(command: string, install: string, versionArgs = ['--version']): Requirement {
  const probe = spawnSync(command, versionArgs, { stdio: 'ignore' });
  return {
    met: probe.error === undefined && probe.status === 0,
    reason: `${command} not found on PATH: ${install}, or run scripts/prereqs.sh test`,
  };
}

/** Options for a test that needs every one of `requirements`; the reason names each one missing. */
export function requires(...requirements: Requirement[]): TestOptions {
  const missing = requirements.filter((requirement) => !requirement.met);
  return skipUnless(missing.length === 0, missing.map((requirement) => requirement.reason).join('; '));
}
