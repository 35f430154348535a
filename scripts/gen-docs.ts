/**
 * Generates the references in docs/reference/ from the code they describe, so they cannot drift:
 * configuration (src/config/settings.ts), the event schema (schemas/*.avsc plus the measured
 * mapping of the transform), the DLQ headers (src/kafka/dlq.ts) and the metrics
 * (src/observability/metrics.ts). test/docs/drift.test.ts regenerates them in memory and fails
 * when a committed file differs or a source entry has no doc.
 *
 * Usage: node scripts/gen-docs.ts [--check]   (npm run docs:gen)
 * --check writes nothing and exits 1 when a file is out of date.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settings, type SettingSpec } from '../src/config/settings.ts';
import { loadSchemaVersions } from '../src/schemas/registry-files.ts';
import { loadCatalogue, renderDlqHeaders, renderMetrics } from './docs/catalogues.ts';
import { renderConfiguration } from './docs/configuration.ts';
import { renderEventSchema, sampleEvents } from './docs/event-schema.ts';
import type { Rendered } from './docs/markdown.ts';

export const referenceDir = fileURLToPath(new URL('../docs/reference/', import.meta.url));

export type Reference =
  | ({ readonly file: string } & Rendered)
  /** The source module has not landed yet; the reason says which and why. */
  | { readonly file: string; readonly skipped: string };

export async function generateReferences(): Promise<Reference[]> {
  const dlq = await loadCatalogue('src/kafka/dlq.ts', /header/i);
  const metrics = await loadCatalogue('src/observability/metrics.ts', /^metric(s|Catalogue)?$|catalogue/i);
  return [
    { file: 'configuration.md', ...renderConfiguration(settings as Record<string, SettingSpec>) },
    { file: 'event-schema.md', ...renderEventSchema(loadSchemaVersions(), sampleEvents()) },
    'missing' in dlq
      ? { file: 'dlq-headers.md', skipped: dlq.missing }
      : { file: 'dlq-headers.md', ...renderDlqHeaders(dlq) },
    'missing' in metrics
      ? { file: 'metrics.md', skipped: metrics.missing }
      : { file: 'metrics.md', ...renderMetrics(metrics) },
  ];
}

export function readCommitted(file: string): string | undefined {
  try {
    return readFileSync(join(referenceDir, file), 'utf8');
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const check = process.argv.includes('--check');
  let failed = false;
  mkdirSync(referenceDir, { recursive: true });
  for (const reference of await generateReferences()) {
    const target = `docs/reference/${reference.file}`;
    if ('skipped' in reference) {
      process.stderr.write(`skipped ${target}: ${reference.skipped}\n`);
      continue;
    }
    if (reference.problems.length > 0) {
      failed = true;
      for (const problem of reference.problems) process.stderr.write(`${target}: ${problem}\n`);
      continue;
    }
    const current = readCommitted(reference.file);
    if (current === reference.content) continue;
    if (check) {
      failed = true;
      process.stderr.write(`${target} is out of date: run npm run docs:gen\n`);
    } else {
      writeFileSync(join(referenceDir, reference.file), reference.content);
      process.stderr.write(`wrote ${target}\n`);
    }
  }
  process.exitCode = failed ? 1 : 0;
}
