import { describe, expect, it } from 'vitest';
import {
  describeValue,
  encodeMessageIndexes,
  frameRecord,
  readFrame,
  readMessageIndexes,
} from '../../src/decode/wire.ts';

describe('Confluent wire format', () => {
  it('frames and reads back the schema id and payload', () => {
    const framed = frameRecord(258, Buffer.from('abc'));
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0, 1, 2]);
    expect(readFrame(framed)).toEqual({ schemaId: 258, payload: Buffer.from('abc') });
  });

  it('reads nothing from a value without magic byte 0 or shorter than the header', () => {
    expect(readFrame(Buffer.from('{"a":1}'))).toBeUndefined();
    expect(readFrame(Buffer.from([0, 0, 1]))).toBeUndefined();
  });

  // Confluent's serializers write [0] as the single byte 0 and anything else as zigzag varints:
  // the count, then each index (count 2 → 0x04, index 1 → 0x02).
  it.each([
    [[0], [0x00]],
    [[1], [0x02, 0x02]],
    [
      [0, 2],
      [0x04, 0x00, 0x04],
    ],
    [[70], [0x02, 0x8c, 0x01]],
  ])('message indexes %j are written as %j and read back', (indexes, bytes) => {
    expect([...encodeMessageIndexes(indexes)]).toEqual(bytes);
    const payload = Buffer.concat([Buffer.from(bytes), Buffer.from([0x0a, 0x01])]);
    expect(readMessageIndexes(payload)).toEqual({ ok: true, indexes, bytes: bytes.length });
  });

  it('puts the message indexes between the header and the payload', () => {
    const framed = frameRecord(7, Buffer.from([0x0a]), [1]);
    expect([...framed]).toEqual([0, 0, 0, 0, 7, 0x02, 0x02, 0x0a]);
  });

  it.each([
    ['cut short', [0x04, 0x00]],
    ['a varint that never ends', [0x82, 0x80, 0x80, 0x80, 0x80, 0x80]],
    ['a negative count', [0x01]],
    ['a count beyond any nesting', [0xc8, 0x03]],
    ['a negative index', [0x02, 0x01]],
    ['nothing at all', []],
  ])('refuses message indexes that are %s', (_, bytes) => {
    expect(readMessageIndexes(Buffer.from(bytes)).ok).toBe(false);
  });

  it('describes what a value looks like, for dead letters', () => {
    expect(describeValue(Buffer.from(' {"eventId":"e-1"}'))).toBe('JSON text ("{\\"eventId\\":\\"e-1\\"}")');
    expect(describeValue(frameRecord(9, Buffer.from('x')))).toBe(
      'Confluent-framed (magic byte 0, schema id 9)',
    );
    expect(describeValue(Buffer.from([1, 2, 3]))).toBe('3 bytes starting 010203');
  });
});
