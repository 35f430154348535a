import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deadLetterCodes, errorCatalogue } from '../../src/errors.ts';
import { generatedBanner, mdCell, type Rendered } from './markdown.ts';

/**
 * The DLQ header list and the metrics catalogue live in modules other engineers own and may
 * rename; they are loaded by path and read by shape (entries with a name and a doc) rather than
 * by one export name, so the generator keeps working across refactors and says clearly when the
 * module is missing or no longer exports anything recognisable.
 */
export interface CatalogueEntry {
  readonly name: string;
  readonly doc: string;
  readonly extra: Readonly<Record<string, string>>;
}

export type Loaded =
  { readonly entries: readonly CatalogueEntry[]; readonly from: string } | { readonly missing: string };

const root = fileURLToPath(new URL('../../', import.meta.url));

const docKeys = ['doc', 'help', 'description', 'meaning'] as const;

export async function loadCatalogue(relativePath: string, exportPattern: RegExp): Promise<Loaded> {
  const path = `${root}${relativePath}`;
  if (!existsSync(path)) return { missing: `${relativePath} does not exist yet` };
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  for (const [exportName, value] of Object.entries(module)) {
    if (!exportPattern.test(exportName)) continue;
    const items: unknown[] = Array.isArray(value)
      ? value
      : typeof value === 'object' && value !== null
        ? Object.entries(value).map(([key, item]) =>
            typeof item === 'object' && item !== null && !('name' in item) ? { name: key, ...item } : item,
          )
        : [];
    const entries = items.flatMap((item): CatalogueEntry[] => {
      if (typeof item !== 'object' || item === null) return [];
      const record = item as Record<string, unknown>;
      if (typeof record.name !== 'string') return [];
      const docKey = docKeys.find((key) => key in record);
      const extra: Record<string, string> = {};
      for (const [key, field] of Object.entries(record)) {
        if (key === 'name' || key === docKey) continue;
        if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean')
          extra[key] = String(field);
        else if (Array.isArray(field)) extra[key] = field.join(', ');
      }
      return [
        {
          name: record.name,
          doc: typeof record[docKey ?? 'doc'] === 'string' ? String(record[docKey ?? 'doc']) : '',
          extra,
        },
      ];
    });
    if (entries.length > 0 && entries.length === items.length)
      return { entries, from: `${relativePath} (${exportName})` };
  }
  return {
    missing: `${relativePath} exports no list matching ${exportPattern} of entries with a name and a doc`,
  };
}

function undocumented(entries: readonly CatalogueEntry[], what: string, from: string): string[] {
  return entries
    .filter((entry) => entry.doc.trim() === '')
    .map((entry) => `${what} ${entry.name} has no doc in ${from}`);
}

export function renderMetrics(loaded: Extract<Loaded, { entries: unknown }>): Rendered {
  const lines = [
    generatedBanner(loaded.from),
    '# Metrics reference',
    '',
    'gong-bridge serves these on `GET /metrics` (port `HTTP_PORT`, default 9464) in the Prometheus',
    'text format, beside Node.js process metrics. Labels are closed sets (topic, partition, status,',
    'outcome, reason), never event data. Alerts on them: `deploy/prometheus/alerts.yaml`; what to do',
    'when one fires: [the runbook](../runbook.md).',
    '',
    '| Metric | Type | Labels | Description |',
    '| --- | --- | --- | --- |',
  ];
  for (const entry of loaded.entries) {
    const labels = entry.extra.labelNames ?? entry.extra.labels ?? '';
    const labelText =
      labels === ''
        ? ''
        : labels
            .split(', ')
            .map((label) => `\`${label}\``)
            .join(', ');
    lines.push(`| \`${entry.name}\` | ${entry.extra.type ?? ''} | ${labelText} | ${mdCell(entry.doc)} |`);
  }
  return { content: `${lines.join('\n')}\n`, problems: undocumented(loaded.entries, 'metric', loaded.from) };
}

export function renderDlqHeaders(loaded: Extract<Loaded, { entries: unknown }>): Rendered {
  const lines = [
    generatedBanner(loaded.from),
    '# Dead-letter headers reference',
    '',
    'A record gong-bridge cannot deliver goes to the dead-letter topic (`KAFKA_DLQ_TOPIC`, default',
    '`<first input topic>.dlq`) with its original key, value and headers unchanged, plus these',
    'headers saying where it came from and why. `gong-bridge replay-dlq` sends records back once the',
    'cause is fixed; see [the runbook](../runbook.md).',
    '',
    '| Header | Description |',
    '| --- | --- |',
  ];
  for (const entry of loaded.entries) lines.push(`| \`${entry.name}\` | ${mdCell(entry.doc)} |`);
  lines.push(
    '',
    '## Reasons',
    '',
    'The values of `gong-bridge.reason` (`deadLetterCodes` in src/errors.ts). Anything retriable, such',
    'as a registry or Gong outage, waits and is retried instead, and never reaches the dead-letter topic.',
    '',
    ...deadLetterReasonTable(),
  );
  return {
    content: `${lines.join('\n')}\n`,
    problems: undocumented(loaded.entries, 'DLQ header', loaded.from),
  };
}

/** Every dead-letter reason with its meaning, as a Markdown table (the README has one too). */
export function deadLetterReasonTable(): string[] {
  return [
    '| Reason | Meaning |',
    '| --- | --- |',
    ...deadLetterCodes.map((code) => `| \`${code}\` | ${mdCell(errorCatalogue[code].description)} |`),
  ];
}
