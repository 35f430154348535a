import { describe, expect, it } from 'vitest';
import { inputFormats } from '../../../src/decode/formats/index.ts';
import { loadWorkedExamples } from '../../mapping/worked-examples.ts';

/**
 * What the tools get from a writer: the sample events of the `transform` command read as the
 * decoder hands them on, and events generated from the schema for doctor.
 */
const examples = loadWorkedExamples();

describe.each(examples)('the $format writer of $mapping', (example) => {
  const writer = inputFormats[example.format].writer!(
    { schemaType: example.schemaType, schema: example.schemaText, references: [] },
    1,
  );

  it('reads each sample line (in the topic format as JSON) into what the decoder hands on', () => {
    const read = example.lines.map((line) => {
      const outcome = writer.fromJson(line, example.record);
      return outcome.ok ? outcome.decoded.event : outcome.error.message;
    });
    expect(read).toEqual(example.events);
    expect(writer.records).toContain(example.record);
  });

  it('generates events from the schema: the first with every field, the second with the fewest', () => {
    const [full, sparse, ...mixed] = writer.samples(8, example.record) as Record<string, unknown>[];
    const root = writer.knownFields(example.record)?.root;
    const fields = root?.kind === 'record' ? [...root.fields.keys()] : [];
    expect(fields.length).toBeGreaterThan(5);
    expect(Object.keys(full!).sort()).toEqual([...fields].sort());
    const present = (event: Record<string, unknown>) =>
      Object.keys(event).filter((key) => event[key] !== null && event[key] !== undefined).length;
    expect(present(sparse!)).toBeLessThan(present(full!));
    expect(mixed).toHaveLength(6);
  });
});

it('generates plausible values: times near now where a mapping reads a time', () => {
  const [pageView, signup, video] = examples;
  const writer = (example: (typeof examples)[number]) =>
    inputFormats[example.format].writer!(
      { schemaType: example.schemaType, schema: example.schemaText, references: [] },
      1,
    );
  const year = (ms: number) => new Date(ms).getUTCFullYear();
  const [avroFull] = writer(pageView!).samples(1) as { occurredAt: number }[];
  expect(year(avroFull!.occurredAt)).toBe(2026);
  const [jsonFull] = writer(signup!).samples(1) as { createdAt: string }[];
  expect(year(Date.parse(jsonFull!.createdAt))).toBe(2026);
  const [protoFull] = writer(video!).samples(1) as { occurredAt: { seconds: string }; platform: string }[];
  expect(year(Number(protoFull!.occurredAt.seconds) * 1000)).toBe(2026);
  // Enum 0 is proto3's default, which the decoding leaves out: a full sample takes another.
  expect(protoFull!.platform).toBe('WEB');
});
