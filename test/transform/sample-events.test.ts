import { describe, expect, it } from 'vitest';
import { newestSchema } from '../../src/schemas/registry-files.ts';
import { contractValidator } from '../../src/gong/validate.ts';
import {
  inferredSampleKinds,
  invalidSampleKinds,
  makeSampleEvent,
  sampleEventKinds,
} from '../../src/transform/sample-events.ts';
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

  it('with invalid=true makes schema-valid events that break a documented rule, whatever the settings', () => {
    const random = seeded(3);
    for (let seq = 0; seq < invalidSampleKinds.length * 10; seq++) {
      const event = roundTrip(makeSampleEvent(seq, random, { invalid: true }));
      const result = transformEvent(event);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.errors[0]).toMatch(/^(content|person|trackingId)[\w.[\]]*: /);
      expect(result.errors.join('\n')).not.toContain('[inferred rule');
      // The published contract refuses them too: the sandbox answers 400.
      expect(transformEvent(event, contractValidator()).ok).toBe(false);
    }
  });

  it('with inferred=true makes events that break exactly one inferred rule, named like the kind', () => {
    const random = seeded(4);
    const seen = new Set<string>();
    for (let seq = 0; seq < inferredSampleKinds.length * 5; seq++) {
      const event = makeSampleEvent(seq, random, { inferred: true });
      expect(type.isValid(event)).toBe(true);
      const kind = inferredSampleKinds[seq % inferredSampleKinds.length]!;
      const result = transformEvent(roundTrip(event));
      // Sent by default, flagged with its rule; refused only by a strict sandbox.
      expect(result).toMatchObject({ ok: true, inferredRules: [kind] });
      expect(transformEvent(roundTrip(event), contractValidator()).ok).toBe(true);
      expect(transformEvent(roundTrip(event), contractValidator(true))).toMatchObject({
        ok: false,
        inferredRules: [kind],
      });
      seen.add(kind);
    }
    expect(seen.size).toBe(inferredSampleKinds.length);
  });

  it('is deterministic for the same seq and random sequence', () => {
    expect(makeSampleEvent(5, seeded(9))).toEqual(makeSampleEvent(5, seeded(9)));
    expect(makeSampleEvent(5, seeded(9), { invalid: true })).toEqual(
      makeSampleEvent(5, seeded(9), { invalid: true }),
    );
  });
});
