import { describe, expect, it } from 'vitest';
import { decodeAvroJson } from '../../src/schemas/avro-json.ts';
import { newestSchema } from '../../src/schemas/registry-files.ts';

const type = newestSchema().type;
const minimal = {
  eventId: 'e1',
  timestamp: 1_738_324_800_000,
  eventType: 'page viewed',
  content: { contentTitle: 'Pricing' },
  trackingId: { string: 'trk-1' },
};

describe('decodeAvroJson', () => {
  it('decodes wrapped unions and fills defaults for left-out fields', () => {
    const result = decodeAvroJson(
      type,
      JSON.stringify({ ...minimal, device: { 'io.gongbridge.Device': 'PC' }, sessionId: null }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const value = result.value as Record<string, unknown>;
    expect(value.device).toBe('PC');
    expect(value.trackingId).toBe('trk-1');
    expect(value.sessionId).toBeNull();
    expect(value.customFields).toEqual([]);
    expect((value.content as Record<string, unknown>).contentLabel).toEqual([]);
  });

  it('round-trips what avsc itself writes as JSON', () => {
    const written = type.toString(type.fromString(JSON.stringify(minimal)));
    const result = decodeAvroJson(type, written);
    expect(result.ok).toBe(true);
  });

  it.each([
    ['not JSON', 'nope', /^\(root\): not valid JSON: /],
    ['a missing required field', JSON.stringify({ ...minimal, eventId: undefined }), /^eventId: required$/],
    [
      'an unwrapped union value',
      JSON.stringify({ ...minimal, trackingId: 'trk-1' }),
      /^trackingId: expected a union value wrapped as \{"<branch>": value\}, branch one of string, got string$/,
    ],
    [
      'a wrong union branch',
      JSON.stringify({ ...minimal, trackingId: { int: 1 } }),
      /^trackingId: expected a union value wrapped as .*got keys \["int"\]$/,
    ],
    [
      'an unknown enum symbol',
      JSON.stringify({ ...minimal, device: { 'io.gongbridge.Device': 'TABLET' } }),
      /^device: must be one of MOBILE, PC, got "TABLET"$/,
    ],
    [
      'a wrong type deep inside',
      JSON.stringify({ ...minimal, content: { contentTitle: 'x', contentLabel: ['a', 2] } }),
      /^content\.contentLabel\[1\]: expected string, got number 2$/,
    ],
    [
      'a fractional int',
      JSON.stringify({
        ...minimal,
        content: {
          contentTitle: 'x',
          numericContentDetails: { 'io.gongbridge.NumericContentDetails': { rangeFrom: 0.5, rangeTo: 1 } },
        },
      }),
      /^content\.numericContentDetails\.rangeFrom: expected int, got number 0\.5$/,
    ],
  ])('names the path for %s', (_label, line, expected) => {
    const result = decodeAvroJson(type, line);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]).toMatch(expected);
    }
  });
});
