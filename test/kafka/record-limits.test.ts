import { describe, expect, it } from 'vitest';
import { checkRecordSize, recordBytes } from '../../src/kafka/record-limits.ts';

const base = { topic: 'events', partition: 2, offset: '41', key: null, value: null } as const;

describe('recordBytes', () => {
  it('counts key, value, header names and every header value, in bytes not characters', () => {
    const size = recordBytes({
      key: Buffer.from('k1'),
      value: Buffer.alloc(10),
      headers: { trace: 'é', multi: [Buffer.from('ab'), 'c'], gone: undefined },
    });
    // 2 + 10 + ('trace' 5 + 'é' 2) + ('multi' 5 + 2 + 1) + ('gone' 4)
    expect(size).toBe(31);
  });

  it('is zero for a tombstone without key or headers', () => {
    expect(recordBytes(base)).toBe(0);
  });
});

describe('checkRecordSize', () => {
  it('passes a record of exactly MAX_RECORD_BYTES', () => {
    expect(checkRecordSize({ ...base, value: Buffer.alloc(100) }, 100)).toBeUndefined();
  });

  it('dead-letters one byte more as RECORD_TOO_LARGE with where it came from', () => {
    const error = checkRecordSize({ ...base, value: Buffer.alloc(100), key: Buffer.from('x') }, 100);
    expect(error?.code).toBe('RECORD_TOO_LARGE');
    expect(error?.retriable).toBe(false);
    expect(error?.message).toBe(
      'the record is 101 bytes (key, value and headers), more than MAX_RECORD_BYTES (100)',
    );
    expect(error?.context).toEqual({ topic: 'events', partition: 2, offset: '41' });
  });

  // Regression guard: a small value with oversized headers must not slip past the limit.
  it('counts headers, so a small value with huge headers is still too large', () => {
    const error = checkRecordSize(
      { ...base, value: Buffer.alloc(10), headers: { blob: Buffer.alloc(200) } },
      100,
    );
    expect(error?.code).toBe('RECORD_TOO_LARGE');
  });
});
