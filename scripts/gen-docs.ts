/**
 * Generates the references in docs/reference/ from the code they describe, so they cannot drift:
 * configuration (src/config/settings.ts), the Gong body rules (src/gong/rule-catalogue.ts), the
 * event schema (schemas/*.avsc plus the measured mapping of the transform), the receipt schema
 * (schemas/receipt.v1.avsc), the DLQ headers
 * (src/kafka/dlq.ts) and the metrics (src/observability/metrics.ts). test/docs/drift.test.ts regenerates them in memory and fails
 * when a committed file differs or a source entry has no doc.
 *
 * Usage: node scripts/gen-docs.ts [--check]   (npm run docs:gen)
 * --check writes nothing and exits 1 when a file is out of date.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settings, type SettingSpec } from '../src/config/settings.ts';
import { documentedRules, inferredRules } from '../src/gong/rule-catalogue.ts';
import { defaultValidationSettings } from '../src/gong/validate.ts';
import { loadSchemaVersions } from '../src/schemas/registry-files.ts';
import { renderBodyRules } from './docs/body-rules.ts';
import { loadCatalogue, renderDlqHeaders, renderMetrics } from './docs/catalogues.ts';
import { renderConfiguration } from './docs/configuration.ts';
import { renderEventSchema, sampleEvents } from './docs/event-schema.ts';
import { renderReceiptSchema } from './docs/receipt-schema.ts';
import { receiptSchema, receiptSchemaFile } from '../src/receipts/receipt.ts';
import { mdCell, type Rendered } from './docs/markdown.ts';

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
    {
      file: 'body-rules.md',
      ...renderBodyRules(documentedRules, inferredRules, defaultValidationSettings),
    },
    { file: 'event-schema.md', ...renderEventSchema(loadSchemaVersions(), sampleEvents()) },
    { file: 'receipt-schema.md', ...renderReceiptSchema(receiptSchema(), receiptSchemaFile) },
    'missing' in dlq
      ? { file: 'dlq-headers.md', skipped: dlq.missing }
      : { file: 'dlq-headers.md', ...renderDlqHeaders(dlq) },
    'missing' in metrics
      ? { file: 'metrics.md', skipped: metrics.missing }
      : { file: 'metrics.md', ...renderMetrics(metrics) },
  ];
}

export const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));

const blockStart = /<!-- dlq-headers:start[^>]*-->\n/;
const blockEnd = '<!-- dlq-headers:end -->';

/**
 * The README's DLQ header table, between its markers, from the same header list as the reference;
 * the rest of the README is prose and stays hand-written. Undefined when the header list has not
 * landed or the README has no markers.
 */
export async function renderReadme(current: string): Promise<string | undefined> {
  const dlq = await loadCatalogue('src/kafka/dlq.ts', /header/i);
  const start = blockStart.exec(current);
  const end = current.indexOf(blockEnd);
  if ('missing' in dlq || start === null || end < start.index) return undefined;
  const rows = dlq.entries.map((entry) => `| \`${entry.name}\` | ${mdCell(entry.doc)} |`);
  const table = ['| Header | Meaning |', '| --- | --- |', ...rows, ''].join('\n');
  return `${current.slice(0, start.index + start[0].length)}${table}${current.slice(end)}`;
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
  const readme = readFileSync(readmePath, 'utf8');
  const nextReadme = await renderReadme(readme);
  if (nextReadme !== undefined && nextReadme !== readme) {
    if (check) {
      failed = true;
      process.stderr.write('README.md (DLQ header table) is out of date: run npm run docs:gen\n');
    } else {
      writeFileSync(readmePath, nextReadme);
      process.stderr.write('wrote the DLQ header table in README.md\n');
    }
  }
  process.exitCode = failed ? 1 : 0;
}
