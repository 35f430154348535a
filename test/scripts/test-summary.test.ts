import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { noReason, render, summarise, type VitestJsonReport } from '../../scripts/test-summary.ts';

/**
 * The closing lines of `make test`: counts, then every skipped test with its reason, and under
 * CI=true a skip fails the run. The last test runs vitest itself on a file that skips the ways a
 * test may, so a vitest upgrade that stopped carrying the reason into its JSON report fails here
 * instead of turning every skip silent again.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);
// Inside the checkout (.stack/ is git-ignored), so the fixture resolves 'vitest' from node_modules.
mkdirSync(join(root, '.stack'), { recursive: true });
const work = mkdtempSync(join(root, '.stack', 'summary-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function report(
  file: string,
  tests: { fullName: string; status: string; reason?: string }[],
): VitestJsonReport {
  const count = (status: string) => tests.filter((test) => test.status === status).length;
  return {
    numPassedTests: count('passed'),
    numFailedTests: count('failed'),
    numPendingTests: count('skipped') + count('pending'),
    numTodoTests: count('todo'),
    testResults: [
      {
        name: join(root, file),
        assertionResults: tests.map((test) => ({
          fullName: test.fullName,
          status: test.status,
          ...(test.reason === undefined ? {} : { meta: { skipReason: test.reason } }),
        })),
      },
    ],
  };
}

const unit = report('test/a.test.ts', [
  { fullName: 'a works', status: 'passed' },
  { fullName: 'a checks rules', status: 'skipped', reason: 'promtool not found' },
  { fullName: 'a checks metrics', status: 'skipped', reason: 'promtool not found' },
]);
const e2e = report('test/b.e2e.test.ts', [
  { fullName: 'b scrapes', status: 'skipped', reason: 'prometheus not found' },
  { fullName: 'b was skipped bare', status: 'skipped' },
  { fullName: 'b fails', status: 'failed' },
]);

describe('scripts/test-summary.ts', () => {
  it('counts every tier and lists each skipped test under its reason', () => {
    const { lines, ok } = render(summarise([unit, e2e], root), false);
    expect(lines).toEqual([
      'tests: 1 passed, 1 failed, 4 skipped',
      'skipped 2: promtool not found',
      '  - test/a.test.ts > a checks rules',
      '  - test/a.test.ts > a checks metrics',
      'skipped 1: prometheus not found',
      '  - test/b.e2e.test.ts > b scrapes',
      `skipped 1: ${noReason}`,
      '  - test/b.e2e.test.ts > b was skipped bare',
    ]);
    expect(ok).toBe(false);
  });

  it('passes a run with skips outside CI, and fails it under CI=true', () => {
    expect(render(summarise([unit], root), false).ok).toBe(true);
    const ci = render(summarise([unit], root), true);
    expect(ci.ok).toBe(false);
    expect(ci.lines.at(-1)).toMatch(/^CI=true: a skipped test fails the run/);
  });

  it('passes a clean run under CI=true with one line', () => {
    const clean = report('test/c.test.ts', [{ fullName: 'c works', status: 'passed' }]);
    expect(render(summarise([clean], root), true)).toEqual({
      lines: ['tests: 1 passed, 0 failed, 0 skipped'],
      ok: true,
    });
  });

  it("gets the reason out of vitest's own JSON report, for an it and for a whole describe", async () => {
    const fixture = join(work, 'skips.test.ts');
    writeFileSync(
      fixture,
      [
        "import { describe, expect, it } from 'vitest';",
        `import { requires, skipUnless } from ${JSON.stringify(join(root, 'test/helpers/requirements.ts'))};`,
        "it('runs', () => expect(1).toBe(1));",
        "it('needs a tool', requires({ met: false, reason: 'tool missing' }), () => {});",
        "describe('a tier', skipUnless(false, 'tier unavailable'), () => {",
        "  it('first', () => {});",
        "  describe('nested', () => { it('second', () => {}); });",
        '});',
      ].join('\n'),
    );
    writeFileSync(
      join(work, 'vitest.config.mjs'),
      "export default { test: { include: ['skips.test.ts'] } };\n",
    );
    const output = join(work, 'report.json');
    await run(
      process.execPath,
      [
        join(root, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--root',
        work,
        '--reporter=json',
        `--outputFile.json=${output}`,
      ],
      { cwd: work },
    );
    const parsed = JSON.parse(readFileSync(output, 'utf8')) as VitestJsonReport;
    const { lines } = render(summarise([parsed], work), true);
    expect(lines).toEqual([
      'tests: 1 passed, 0 failed, 3 skipped',
      'skipped 1: tool missing',
      '  - skips.test.ts > needs a tool',
      'skipped 2: tier unavailable',
      '  - skips.test.ts > a tier first',
      '  - skips.test.ts > a tier nested second',
      'CI=true: a skipped test fails the run; install what the reasons name.',
    ]);
  });
});
