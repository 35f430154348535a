// The closing lines of `make test` and `.ci/run`: vitest's JSON reports summed into one count,
// "N passed, N failed, N skipped", so a log ends with a plain count whatever tier failed first;
// then every skipped test with its reason (test/helpers/requirements.ts records it), so no test is
// skipped silently. Exit 1 when a test failed, and with CI=true also when one was skipped.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface AssertionResult {
  readonly fullName: string;
  readonly status: string;
  readonly meta?: { readonly skipReason?: string };
}

export interface VitestJsonReport {
  readonly numPassedTests: number;
  readonly numFailedTests: number;
  readonly numPendingTests: number;
  readonly numTodoTests: number;
  readonly testResults?: readonly { readonly name: string; readonly assertionResults: AssertionResult[] }[];
}

export interface Summary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Reason → the skipped tests, as "file > full name". */
  readonly skips: ReadonlyMap<string, readonly string[]>;
}

const notRun = new Set(['skipped', 'pending', 'todo']);
export const noReason = 'no reason recorded (skipped without test/helpers/requirements.ts)';

export function summarise(reports: readonly VitestJsonReport[], root = process.cwd()): Summary {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const skips = new Map<string, string[]>();
  for (const report of reports) {
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + report.numTodoTests;
    for (const file of report.testResults ?? []) {
      for (const test of file.assertionResults) {
        if (!notRun.has(test.status)) continue;
        const reason = test.meta?.skipReason ?? noReason;
        const list = skips.get(reason) ?? [];
        list.push(`${relative(root, file.name)} > ${test.fullName}`);
        skips.set(reason, list);
      }
    }
  }
  return { passed, failed, skipped, skips };
}

export function render(summary: Summary, ci: boolean): { lines: string[]; ok: boolean } {
  const lines = [`tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`];
  for (const [reason, tests] of summary.skips) {
    lines.push(`skipped ${tests.length}: ${reason}`);
    for (const test of tests) lines.push(`  - ${test}`);
  }
  const skipFails = ci && summary.skipped > 0;
  if (skipFails) lines.push('CI=true: a skipped test fails the run; install what the reasons name.');
  return { lines, ok: summary.failed === 0 && !skipFails };
}

if (import.meta.main) {
  const dir = process.argv[2] ?? '.stack/reports';
  const files = existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.json')) : [];
  const reports = files.map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as VitestJsonReport);
  const { lines, ok } = render(summarise(reports), process.env.CI === 'true');
  console.log(lines.join('\n'));
  process.exitCode = ok ? 0 : 1;
}
