import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  coalesce,
  customField,
  customFieldsFromMap,
  deviceFromUserAgent,
  mappingHelpers,
  type LongLike,
  percentOf,
  stableEventId,
  toGongTimestamp,
} from '../../src/mapping/helpers.ts';

// protobufjs' Long (long.js), as it decodes int64 fields; its typings only expose the constructor.
const Long = protobuf.util.Long as unknown as {
  fromString(text: string): LongLike;
  fromNumber(value: number): LongLike;
};

describe('$timestamp', () => {
  const iso = '2026-01-01T00:00:00.123Z';
  it.each([
    ['epoch milliseconds', 1_767_225_600_123, undefined],
    ['epoch milliseconds as a bigint', 1_767_225_600_123n, undefined],
    ['epoch milliseconds as digits', '1767225600123', undefined],
    ['epoch seconds with a fraction', 1_767_225_600.123, 's'],
    ['Avro timestamp-micros as avsc decodes it (a number)', 1_767_225_600_123_456, 'us'],
    ['epoch nanoseconds as a bigint', 1_767_225_600_123_456_789n, 'ns'],
    ['a protobufjs Long of milliseconds', Long.fromString('1767225600123'), undefined],
    ['a Date (avsc with a logical type)', new Date(1_767_225_600_123), undefined],
    ['an RFC 3339 string with an offset', '2026-01-01T01:00:00.123+01:00', undefined],
    ['an RFC 3339 string with more than milliseconds', '2026-01-01T00:00:00.123999Z', undefined],
    [
      'a Protobuf Timestamp, raw (Long seconds)',
      { seconds: Long.fromNumber(1_767_225_600), nanos: 123_456_789 },
      undefined,
    ],
    [
      'a Protobuf Timestamp, toObject with longs as String',
      { seconds: '1767225600', nanos: 123_000_000 },
      undefined,
    ],
  ] as const)('reads %s', (_label, value, unit) => {
    expect(toGongTimestamp(value, unit)).toBe(iso);
  });

  it('keeps instants before 1970 in the right millisecond', () => {
    expect(toGongTimestamp(-1_500n, 'us')).toBe('1969-12-31T23:59:59.998Z');
    expect(toGongTimestamp({ seconds: '-1', nanos: 500_000_000 })).toBe('1969-12-31T23:59:59.500Z');
  });

  it('is absent for an absent value', () => {
    expect(toGongTimestamp(undefined)).toBeUndefined();
    expect(toGongTimestamp(null)).toBeUndefined();
  });

  it.each([
    ['2026-01-01T00:00:00', 'cannot read "2026-01-01T00:00:00" as a time'],
    ['2026-02-30T00:00:00Z', 'cannot read "2026-02-30T00:00:00Z" as a time'],
    ['yesterday', 'cannot read "yesterday" as a time'],
    [Number.NaN, 'cannot read NaN as a time'],
    [253_402_300_800_000, 'cannot read 253402300800000 as a time'],
    [new Date(Number.NaN), 'cannot read an invalid Date as a time'],
    [true, 'cannot read true as a time'],
  ] as const)('refuses %s, saying what it takes', (value, message) => {
    expect(() => toGongTimestamp(value)).toThrow(`$timestamp: ${message}: expected epoch milliseconds`);
  });

  it('refuses an unknown unit', () => {
    const helper = mappingHelpers.find((candidate) => candidate.name === 'timestamp')!;
    expect(() => helper.call({}, [1, 'minutes'])).toThrow(
      '$timestamp: the unit must be one of s, ms, us, ns, got "minutes"',
    );
  });
});

describe('$device', () => {
  it.each([
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148', 'MOBILE'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile Safari/537.36', 'MOBILE'],
    ['Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)', 'MOBILE'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36', 'PC'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15', 'PC'],
  ])('%s → %s', (agent, device) => {
    expect(deviceFromUserAgent(agent)).toBe(device);
  });

  it('is absent without a user agent and refuses a non-string', () => {
    expect(deviceFromUserAgent(undefined)).toBeUndefined();
    expect(deviceFromUserAgent('  ')).toBeUndefined();
    expect(() => deviceFromUserAgent(3)).toThrow('$device: expects a user-agent string, got 3');
  });
});

describe('$eventId', () => {
  const event = { a: 'x', b: { c: 42 }, other: 'ignored' };

  // Golden values computed independently with Python: uuid.uuid5(uuid.NAMESPACE_URL,
  // json.dumps(parts, separators=(',', ':'), ensure_ascii=False)). They pin the id across
  // releases, replicas and restarts, and show another team can compute the same id.
  it('is the UUID v5 of [namespace, values...], as other languages compute it', () => {
    expect(stableEventId(event, ['a', 'b.c'])).toBe('e87febde-e9a6-5b6a-a5a4-738fe14e4399');
    expect(stableEventId(event, ['a', 'b.c'], 'ns')).toBe('8b9a379c-801d-5b37-a536-8314c2db0aa6');
    expect(stableEventId({ t: 'é ✓' }, ['t'])).toBe('21c405b1-beb0-5516-a4b3-e93746aebffe');
    expect(
      stableEventId(
        {
          id: Long.fromString('9007199254740993'),
          at: new Date(Date.UTC(2026, 0, 1)),
          extra: { b: [true, null], a: 1 },
        },
        ['id', 'at', 'extra'],
        'video',
      ),
    ).toBe('2a4136a2-39c8-5c5a-ab41-46b2ae3bd005');
  });

  it('depends only on the named fields, in order, and not on how the decoder represents them', () => {
    const id = stableEventId(event, ['a', 'b.c']);
    expect(stableEventId({ ...event, other: 'changed' }, ['a', 'b.c'])).toBe(id);
    expect(stableEventId({ b: { c: 42 }, a: 'x' }, ['a', 'b.c'])).toBe(id);
    expect(stableEventId(event, ['b.c', 'a'])).not.toBe(id);
    expect(stableEventId({ a: 'x', b: { c: 43 } }, ['a', 'b.c'])).not.toBe(id);
    // int64 as a Long, a bigint or text is the same value.
    const long = stableEventId({ n: Long.fromString('123') }, ['n']);
    expect(stableEventId({ n: 123n }, ['n'])).toBe(long);
    expect(stableEventId({ n: '123' }, ['n'])).toBe(long);
  });

  it('refuses an absent field rather than letting two events share an id', () => {
    expect(() => stableEventId({ a: 'x' }, ['a', 'b.c'])).toThrow(
      '$eventId: field b.c is absent; every named field must be present, or two different events would share an id',
    );
    expect(() => stableEventId({ a: ' ' }, ['a'])).toThrow('field a is absent');
    expect(() => stableEventId({ a: 'x' }, [])).toThrow('$eventId: expects a list of field names');
    expect(() => stableEventId({ a: 'x' }, ['a'], 7)).toThrow('$eventId: the namespace must be text, got 7');
  });

  it('never reads the Kafka offset: it sees only the decoded event', () => {
    const helper = mappingHelpers.find((candidate) => candidate.name === 'eventId')!;
    expect(helper.call(event, [['a']])).toBe(stableEventId(event, ['a']));
  });
});

describe('$customField and $customFields', () => {
  it('writes the value as text and infers its dataType', () => {
    expect(customField('plan', 'team')).toEqual({ name: 'plan', value: 'team', dataType: 'STRING' });
    expect(customField('seats', 12)).toEqual({ name: 'seats', value: '12', dataType: 'NUMBER' });
    expect(customField('views', Long.fromString('9007199254740993'))).toEqual({
      name: 'views',
      value: '9007199254740993',
      dataType: 'NUMBER',
    });
    expect(customField('trial', false)).toEqual({ name: 'trial', value: 'false', dataType: 'BOOLEAN' });
    expect(customField('since', new Date(0))).toEqual({
      name: 'since',
      value: '1970-01-01T00:00:00.000Z',
      dataType: 'DATE',
    });
    expect(customField('watched', 90, 'DURATION')).toEqual({
      name: 'watched',
      value: '90',
      dataType: 'DURATION',
    });
  });

  it('is absent for an absent or blank value, and refuses what is not a scalar', () => {
    expect(customField('x', null)).toBeUndefined();
    expect(customField('x', '')).toBeUndefined();
    expect(() => customField('x', { a: 1 })).toThrow(
      '$customField: a custom field value must be text, a number, a boolean or a date, got an object',
    );
    expect(() => customField('', 'v')).toThrow('$customField: the name must be non-empty text, got ""');
    expect(() => customField('x', 'v', 'TEXT')).toThrow(
      '$customField: dataType must be one of STRING, NUMBER, DATE, URL, BOOLEAN, DURATION, got "TEXT"',
    );
  });

  it('makes one field per map entry, skipping absent values', () => {
    expect(customFieldsFromMap({ utm: 'spring', empty: '', n: 3 })).toEqual([
      { name: 'utm', value: 'spring', dataType: 'STRING' },
      { name: 'n', value: '3', dataType: 'NUMBER' },
    ]);
    expect(customFieldsFromMap(new Map([['k', 'v']]))).toEqual([
      { name: 'k', value: 'v', dataType: 'STRING' },
    ]);
    expect(customFieldsFromMap(undefined)).toBeUndefined();
    expect(() => customFieldsFromMap(['a'])).toThrow(
      '$customFields: expects an object or map of name to value, got a list',
    );
  });
});

describe('$percent and $coalesce', () => {
  it('percent: a whole percentage, clamped, from any int64 form', () => {
    expect(percentOf(150_000, 300_000)).toBe(50);
    expect(percentOf('299999', Long.fromNumber(300_000))).toBe(99);
    expect(percentOf(301_000n, 300_000)).toBe(100);
    expect(percentOf(-5, 100)).toBe(0);
    expect(percentOf(5, 0)).toBeUndefined();
    expect(percentOf(undefined, 100)).toBeUndefined();
    expect(() => percentOf('half', 100)).toThrow('$percent: expects a number, got "half"');
  });

  it('coalesce: the first present value', () => {
    expect(coalesce([undefined, null, '  ', 'x', 'y'])).toBe('x');
    expect(coalesce([0, 'y'])).toBe(0);
    expect(coalesce([undefined])).toBeUndefined();
  });
});
