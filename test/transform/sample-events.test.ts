import { describe, expect, it } from 'vitest';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { invalidSampleKinds, makeSampleEvent, sampleEventKinds } from '../../src/transform/sample-events.ts';
import { transformEvent, type InteractionEvent } from '../../src/transform/transform.ts';

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16_807) % 2_147_483_647;
    return (state - 1) / 2_147_483_646;
  };
}

describe('makeSampleEvent', () => {
  const type = newestSchema().type;
  const roundTrip = (event: InteractionEvent) => type.fromBuffer(type.toBuffer(event)) as InteractionEvent;

  it('makes events valid for the newest schema that Gong accepts, for every kind', () => {
    const random = seeded(1);
    for (let seq = 0; seq < sampleEventKinds.length * 20; seq++) {
      const event = makeSampleEvent(seq, random);
      expect(type.isValid(event)).toBe(true);
      const result = transformEvent(roundTrip(event));
      expect(result.ok ? [] : result.errors).toEqual([]);
    }
  });

  it('covers known persons with business context, anonymous visitors and tracking-id-only events', () => {
    const random = seeded(2);
    const bodies = Array.from({ length: sampleEventKinds.length }, (_, seq) => {
      const result = transformEvent(makeSampleEvent(seq, random));
      if (!result.ok) throw new Error(result.errors.join('; '));
      return result.body;
    });
    expect(bodies.some((body) => body.person?.personBusinessContext != null)).toBe(true);
    expect(bodies.some((body) => (body.person?.company?.companyBusinessContexts?.length ?? 0) > 0)).toBe(
      true,
    );
    expect(
      bodies.some((body) => body.person != null && body.person.name == null && body.person.company?.domain),
    ).toBe(true);
    expect(bodies.some((body) => body.person == null && body.trackingId != null)).toBe(true);
    expect(bodies.some((body) => body.content.numericContentDetails != null)).toBe(true);
    expect(bodies.some((body) => body.content.stepContentDetails != null)).toBe(true);
    expect(bodies.some((body) => body.content.searchObjectDetails != null)).toBe(true);
  });

  it('with invalid=true makes schema-valid events that the transform rejects with a path', () => {
    const random = seeded(3);
    for (let seq = 0; seq < invalidSampleKinds.length * 10; seq++) {
      const event = makeSampleEvent(seq, random, { invalid: true });
      expect(type.isValid(event)).toBe(true);
      const result = transformEvent(roundTrip(event));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.errors[0]).toMatch(/^(content|person|trackingId)[\w.[\]]*: /);
    }
  });

  it('is deterministic for the same seq and random sequence', () => {
    expect(makeSampleEvent(5, seeded(9))).toEqual(makeSampleEvent(5, seeded(9)));
    expect(makeSampleEvent(5, seeded(9), { invalid: true })).toEqual(
      makeSampleEvent(5, seeded(9), { invalid: true }),
    );
  });
});
