import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import {
  generateReferences,
  readCommitted,
  readmePath,
  renderReadme,
  type Reference,
} from '../../scripts/gen-docs.ts';
import { renderBodyRules } from '../../scripts/docs/body-rules.ts';
import { renderDlqHeaders, renderMetrics } from '../../scripts/docs/catalogues.ts';
import { renderConfiguration } from '../../scripts/docs/configuration.ts';
import { renderEventSchema, sampleEvents } from '../../scripts/docs/event-schema.ts';
import { settings, type SettingSpec } from '../../src/config/settings.ts';
import { deadLetterCodes, errorCodes } from '../../src/errors.ts';
import { dlqHeaders } from '../../src/kafka/dlq.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { documentedRules, inferredRules } from '../../src/gong/rule-catalogue.ts';
import { defaultValidationSettings } from '../../src/gong/validate.ts';
import { loadSchemaVersions, type SchemaVersion } from '../../src/schemas/registry-files.ts';
import { skipUnless } from '../helpers/requirements.ts';

const references = await generateReferences();

describe.each(references.map((reference) => [reference.file, reference] as const))(
  'docs/reference/%s',
  (file, reference: Reference) => {
    // A reference whose source module has not landed yet is skipped with the reason (listed in
    // the run's closing lines, and failing CI) rather than failing everyone else's local run.
    const skipped = 'skipped' in reference ? reference.skipped : undefined;
    const needsSource = skipUnless(skipped === undefined, `docs/reference/${file}: ${skipped}`);
    it('documents every entry of its source', needsSource, () => {
      expect('problems' in reference ? reference.problems : []).toEqual([]);
    });
    it('matches the code; if not, run npm run docs:gen', needsSource, () => {
      if ('skipped' in reference) return;
      const committed = readCommitted(file);
      expect(committed, `docs/reference/${file} is missing: run npm run docs:gen`).toBeDefined();
      expect(
        committed === reference.content,
        `docs/reference/${file} is out of date: run npm run docs:gen`,
      ).toBe(true);
    });
  },
);

describe('README.md', () => {
  it('has the DLQ header and reason tables of the code; if not, run npm run docs:gen', async () => {
    const readme = readFileSync(readmePath, 'utf8');
    const next = await renderReadme(readme);
    expect(
      next,
      'README.md lacks the dlq-headers or dlq-reasons markers, or src/kafka/dlq.ts has no header list',
    ).toBeDefined();
    expect(next === readme, 'the DLQ tables in README.md are out of date: run npm run docs:gen').toBe(true);
  });
});

describe('dead-letter reasons', () => {
  it('are the codes the reason header documents, so the hand-written doc and the list agree', () => {
    const doc = dlqHeaders.find((header) => header.name === 'gong-bridge.reason')?.doc ?? '';
    const named = errorCodes.filter((code) => new RegExp(`\\b${code}\\b`).test(doc));
    expect(named.sort()).toEqual([...deadLetterCodes].sort());
  });

  it('are exactly the reasons /metrics exports at 0 from the start', async () => {
    const metrics = createMetrics(new Registry(), { version: '0.0.0', defaultMetrics: false });
    const text = await metrics.registry.metrics();
    const exported = [...text.matchAll(/^gong_bridge_dead_lettered_total\{reason="([A-Z_]+)"\} 0$/gm)].map(
      (match) => match[1],
    );
    expect(exported.sort()).toEqual([...deadLetterCodes].sort());
  });
});

// The checks above only prove today's sources are documented. These prove that an entry added
// without its doc would make them fail.
describe('an undocumented entry fails the drift test', () => {
  it('a setting without a doc', () => {
    const catalogue: Record<string, SettingSpec> = {
      ...(settings as Record<string, SettingSpec>),
      NEW_SETTING: { group: 'runtime', schema: z.string().optional(), doc: '' },
    };
    expect(renderConfiguration(catalogue).problems).toEqual([
      'setting NEW_SETTING has no doc in src/config/settings.ts',
    ]);
  });

  it('a setting added with a doc changes the rendered reference', () => {
    const catalogue: Record<string, SettingSpec> = {
      ...(settings as Record<string, SettingSpec>),
      NEW_SETTING: {
        group: 'runtime',
        schema: z.coerce.number().int().min(1).default(5),
        doc: 'Something new.',
      },
    };
    const rendered = renderConfiguration(catalogue);
    expect(rendered.problems).toEqual([]);
    expect(rendered.content).toContain('| `NEW_SETTING` | integer ≥ 1 | `5` | Something new. |');
    expect(rendered.content).not.toBe(readCommitted('configuration.md'));
  });

  it('a schema field without a doc, and the mapping of a field the transform ignores', () => {
    const versions = loadSchemaVersions();
    const newest = versions[versions.length - 1]!;
    const schema = structuredClone(newest.schema) as unknown as { fields: Record<string, unknown>[] };
    schema.fields.push({ name: 'newField', type: ['null', 'string'], default: null });
    const next: SchemaVersion = {
      ...newest,
      version: newest.version + 1,
      file: 'interaction-event.vNext.avsc',
      schema: schema as never,
    };
    const samples = sampleEvents().map((event) => ({ ...event, newField: 'x' }));
    const rendered = renderEventSchema([...versions, next], samples);
    expect(rendered.problems).toEqual(['schemas/interaction-event.vNext.avsc: field newField has no doc']);
    expect(rendered.content).toMatch(/\| `newField` \| string, nullable \| `null` \| v3 \| not sent \|/);
  });

  it('a field no sample exercises stops the generator instead of guessing its mapping', () => {
    const versions = loadSchemaVersions();
    const newest = versions[versions.length - 1]!;
    const schema = structuredClone(newest.schema) as unknown as { fields: Record<string, unknown>[] };
    schema.fields.push({
      name: 'extra',
      doc: 'A record no sample carries.',
      type: {
        type: 'record',
        name: 'Extra',
        doc: 'Extra.',
        fields: [{ name: 'rating', type: 'int', doc: 'Rating.' }],
      },
    });
    const rendered = renderEventSchema(
      [...versions.slice(0, -1), { ...newest, schema: schema as never }],
      sampleEvents(),
    );
    expect(rendered.problems).toEqual([expect.stringContaining('event field extra.rating: no sample event')]);
  });

  it('a documented body rule without a line of the contract, or an inferred one without its basis', () => {
    const rendered = renderBodyRules(
      [...documentedRules, { name: 'new-rule', doc: 'Something.', spec: 'Gong says so somewhere.' }],
      [...inferredRules, { name: 'new-guess', doc: 'Something.', basis: '' }],
      defaultValidationSettings,
    );
    expect(rendered.problems).toEqual([
      'documented rule new-rule has no doc or no line of the contract in its spec',
      'inferred rule new-guess has no doc or no basis',
    ]);
  });

  it('a metric or a DLQ header without a doc', () => {
    const entries = [
      { name: 'gong_bridge_documented_total', doc: 'Documented.', extra: { type: 'counter' } },
      { name: 'gong_bridge_new_total', doc: ' ', extra: { type: 'counter' } },
    ];
    expect(renderMetrics({ entries, from: 'test' }).problems).toEqual([
      'metric gong_bridge_new_total has no doc in test',
    ]);
    expect(renderDlqHeaders({ entries, from: 'test' }).problems).toEqual([
      'DLQ header gong_bridge_new_total has no doc in test',
    ]);
  });
});
