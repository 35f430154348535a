import { describe, expect, it } from 'vitest';
import { validateGongBody } from '../../src/gong/validate.ts';
import { applyMapping, interpreterOnly, loadMappings } from '../../src/mapping/index.ts';
import { loadWorkedExamples, mappingsFile } from './worked-examples.ts';

const mappings = loadMappings(mappingsFile);
const examples = loadWorkedExamples();

describe.each(examples.map((example) => [example.mapping, example] as const))(
  'worked example %s (test/fixtures/mappings)',
  (name, example) => {
    const mapping = mappings.selectMapping(example.topic, { record: example.record });

    it('is selected by its topic and record, and checked against its schema file', () => {
      expect(mapping?.name).toBe(name);
      expect(mapping?.knownFields?.root.kind).toBe('record');
    });

    it('runs entirely on the compiled fast path', () => {
      expect(mapping?.interpretedFields).toEqual([]);
    });

    it('maps every sample event to the expected body, which Gong accepts', async () => {
      expect(example.events.length).toBe(example.bodies.length);
      for (const [index, event] of example.events.entries()) {
        const result = await applyMapping(mapping!, event);
        expect(result.ok ? result.body : result.error.context.details, `event ${index + 1}`).toEqual(
          example.bodies[index],
        );
        expect(validateGongBody(example.bodies[index]).ok).toBe(true);
      }
    });

    it('gives the same bodies on the JSONata interpreter alone', async () => {
      const reference = interpreterOnly(mapping!);
      for (const [index, event] of example.events.entries()) {
        const result = await applyMapping(reference, event);
        expect(result.ok ? result.body : result.error.message, `event ${index + 1}`).toEqual(
          example.bodies[index],
        );
      }
    });
  },
);

describe('the worked examples together', () => {
  it('cover Avro, JSON and Protobuf, and numericContentDetails', () => {
    expect(examples.map((example) => example.mapping)).toEqual([
      'web-page-view',
      'product-signup',
      'video-progress',
    ]);
    const video = examples[2]!.bodies as { content: { numericContentDetails?: unknown } }[];
    expect(video.every((body) => body.content.numericContentDetails !== undefined)).toBe(true);
  });

  it('leave canonical records and unmapped topics to the wiring', () => {
    expect(
      mappings.selectMapping('web.page-views', { record: 'io.gongbridge.InteractionEvent' }),
    ).toBeUndefined();
    expect(mappings.selectMapping('other.topic', { record: 'acme.other.Thing' })).toBeUndefined();
  });
});
