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
import { deadLetterReasonTable, loadCatalogue, renderDlqHeaders, renderMetrics } from './docs/catalogues.ts';
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

/**
 * The README's generated blocks, each between `<!-- NAME:start ... -->` and `<!-- NAME:end -->`
 * markers; the rest of the README is prose and stays hand-written.
 */
const readmeBlocks: readonly { name: string; render: () => Promise<string[] | undefined> }[] = [
  {
    // The same header list as docs/reference/dlq-headers.md.
    name: 'dlq-headers',
    render: async () => {
      const dlq = await loadCatalogue('src/kafka/dlq.ts', /header/i);
      if ('missing' in dlq) return undefined;
      return [
        '| Header | Meaning |',
        '| --- | --- |',
        ...dlq.entries.map((entry) => `| \`${entry.name}\` | ${mdCell(entry.doc)} |`),
      ];
    },
  },
  { name: 'dlq-reasons', render: async () => deadLetterReasonTable() },
];

/**
 * The README with its generated blocks brought up to date. Undefined when a block's source has
 * not landed or the README lacks a block's markers.
 */
export async function renderReadme(current: string): Promise<string | undefined> {
  let next = current;
  for (const block of readmeBlocks) {
    const start = new RegExp(`<!-- ${block.name}:start[^>]*-->\\n`).exec(next);
    const end = next.indexOf(`<!-- ${block.name}:end -->`);
    const rows = await block.render();
    if (rows === undefined || start === null || end < start.index) return undefined;
    next = `${next.slice(0, start.index + start[0].length)}${[...rows, ''].join('\n')}${next.slice(end)}`;
  }
  return next;
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
      process.stderr.write('README.md (its generated DLQ tables) is out of date: run npm run docs:gen\n');
    } else {
      writeFileSync(readmePath, nextReadme);
      process.stderr.write('wrote the generated DLQ tables in README.md\n');
    }
  }
  process.exitCode = failed ? 1 : 0;
}
