#!/usr/bin/env bash
# npm audit of the production dependencies (what ships in the image), failing on any high or
# critical advisory. Low and moderate findings are listed but pass; docs/dependencies.md says
# how they are handled.
#
# Exit codes:
#   0  no high or critical advisory
#   1  at least one high or critical advisory (listed)
#   3  the audit endpoint could not be reached or refused the request: NO verdict, not a pass
#   2  anything else (npm crashed, output not understood)
#
# Extra arguments go to npm audit, e.g. scripts/audit.sh --registry https://mirror.example/
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PATH="$(scripts/ensure-node.sh):$PATH"

out="$(mktemp)"
err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT

# npm exits 1 both for findings and for an unreachable endpoint, so the verdict comes from the
# JSON report instead of the exit code.
npm audit --omit=dev --json "$@" >"$out" 2>"$err"

node --input-type=module - "$out" "$err" <<'JS'
import { readFileSync } from 'node:fs';

const [outFile, errFile] = process.argv.slice(2);
const stderr = readFileSync(errFile, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.includes('Unknown user config'))
  .join('\n');
let report;
try {
  report = JSON.parse(readFileSync(outFile, 'utf8'));
} catch {
  console.error(`audit: npm audit printed no JSON report\n${stderr}`);
  process.exit(2);
}

const counts = report?.metadata?.vulnerabilities;
if (counts === undefined) {
  // npm reports an unreachable or refusing endpoint as a bare { message, error } object.
  const message = report?.message ?? report?.error?.summary ?? '';
  if (/audit endpoint|security\/advisories|security\/audits|request to .* failed|\b[45]\d\d\b/i.test(`${message}\n${stderr}`)) {
    console.error(
      `audit: UNREACHABLE: the registry's audit endpoint did not answer: ${message || stderr}\n` +
        'audit: no verdict on the production dependencies; this is not a pass.',
    );
    process.exit(3);
  }
  console.error(`audit: npm audit failed: ${message}\n${stderr}`);
  process.exit(2);
}

const levels = ['critical', 'high', 'moderate', 'low', 'info'];
const summary = levels.map((level) => `${counts[level] ?? 0} ${level}`).join(', ');
const deps = report.metadata.dependencies?.prod ?? report.metadata.dependencies?.total ?? '?';
console.log(`audit: ${deps} production dependencies: ${summary}`);
for (const [name, finding] of Object.entries(report.vulnerabilities ?? {})) {
  for (const via of finding.via ?? []) {
    // A string `via` is a dependency path; the advisory itself is listed under that package.
    if (typeof via === 'string') continue;
    console.log(`audit:   ${via.severity.padEnd(8)} ${name} ${via.range ?? ''}: ${via.title} ${via.url ?? ''}`);
  }
}
const blocking = (counts.critical ?? 0) + (counts.high ?? 0);
if (blocking > 0) {
  console.error(`audit: FAIL: ${blocking} high or critical advisories in production dependencies`);
  process.exit(1);
}
JS
