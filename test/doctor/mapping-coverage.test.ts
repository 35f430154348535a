import { describe, expect, it } from 'vitest';
import { inputFormats } from '../../src/decode/formats/index.ts';
import { mappingCoverage } from '../../src/doctor/mapping-coverage.ts';
import { compileMappings, loadMappings } from '../../src/mapping/index.ts';
import { loadWorkedExamples, mappingsFile, type WorkedExample } from '../mapping/worked-examples.ts';

/** Mappings run over records generated from their writer schemas, as doctor runs them. */
const examples = loadWorkedExamples();
const [pageView, , video] = examples as [WorkedExample, WorkedExample, WorkedExample];
const samples = (example: WorkedExample, count = 40) =>
  inputFormats[example.format].writer!({
    schemaType: example.schemaType,
    schema: example.schemaText,
    references: [],
  }).samples(count, example.record);

describe('mapping coverage over generated records', () => {
  it('finds nothing to say about the Avro page view: every field it maps is filled, no required one is empty', async () => {
    const mapping = loadMappings(mappingsFile).mappings.find((entry) => entry.name === 'web-page-view')!;
    expect(await mappingCoverage(mapping, samples(pageView))).toEqual({
      mapping: 'web-page-view',
      samples: 40,
      neverFilled: [],
      mayBeEmpty: [],
      failures: [],
    });
  });

  it('names the required fields a Protobuf mapping may leave empty: proto3 leaves any field out', async () => {
    const mapping = loadMappings(mappingsFile).mappings.find((entry) => entry.name === 'video-progress')!;
    const coverage = await mappingCoverage(mapping, samples(video));
    expect(coverage.mayBeEmpty.map((entry) => entry.field).sort()).toEqual([
      'content.contentTitle',
      'eventId',
      'timestamp',
    ]);
    // The sparse sample (the second) has none of them; the full one (the first) has all.
    for (const entry of coverage.mayBeEmpty) expect(entry.samples).toBeGreaterThanOrEqual(1);
    expect(coverage.neverFilled).toEqual([]);
  });

  it('names a field no record fills, and what makes the mapping throw', async () => {
    const mappings = compileMappings(
      [
        'version: 1',
        'mappings:',
        '  - name: odd-views',
        '    match: { topics: web.page-views, records: acme.web.PageView }',
        '    body:',
        "      eventId: $eventId(['userId', 'occurredAt'])",
        '      timestamp: $timestamp(occurredAt)',
        "      eventType: \"context.country = 'ATLANTIS' ? 'lost' : 'page viewed'\"",
        '      content:',
        '        contentTitle: page.path',
        '        contentId: "page.path = \'never\' ? page.url"',
        '        contentLabel: tags',
        '',
      ].join('\n'),
      { file: 'odd.yaml' },
    );
    const coverage = await mappingCoverage(mappings.mappings[0]!, samples(pageView));
    expect(coverage.neverFilled).toEqual(['content.contentId']);
    expect(coverage.failures).toEqual([
      { field: expect.stringMatching(/^eventId: \$eventId: .*userId/), samples: expect.any(Number) },
    ]);
    expect(coverage.failures[0]!.samples).toBeLessThan(40);
  });
});
