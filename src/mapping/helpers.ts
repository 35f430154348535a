import { hash } from 'node:crypto';
import { customFieldDataTypeValues, type CustomFieldDataType } from '../gong/body-schema.ts';
import { isBlank, isIsoDateTime } from '../gong/body-rules.ts';
import { toIsoTimestamp } from '../transform/transform.ts';

/**
 * The functions gong-bridge binds into the mapping language, on top of JSONata's own. Each one is
 * pure and synchronous and runs the same in the compiled fast path and in the JSONata
 * interpreter, so a mapping gives the same body whichever path evaluates it. docs/mappings.md
 * documents every entry (a test checks it), and a helper that cannot do its job throws a
 * MappingHelperError, which becomes a MAPPING_FAILED dead letter naming the mapping and field.
 */
export interface MappingHelper {
  /** Called as `$<name>(...)`. */
  readonly name: string;
  /** How docs and error messages show the call. */
  readonly usage: string;
  readonly doc: string;
  /** `root` is the whole decoded event, for helpers that name fields of it. */
  readonly call: (root: unknown, args: readonly unknown[]) => unknown;
}

export class MappingHelperError extends Error {
  constructor(helper: string, message: string) {
    super(`$${helper}: ${message}`);
    this.name = 'MappingHelperError';
  }
}

export type TimeUnit = 's' | 'ms' | 'us' | 'ns';
const timeUnits: readonly TimeUnit[] = ['s', 'ms', 'us', 'ns'];

/** Absent for a mapping: missing, null, or a string with nothing visible. */
export function isAbsentValue(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && isBlank(value));
}

/** protobufjs decodes int64 fields as Long objects when long.js is installed (it is, via the registry client). */
export interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
  toString(): string;
}

export function isLongLike(value: unknown): value is LongLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LongLike).low === 'number' &&
    typeof (value as LongLike).high === 'number' &&
    typeof (value as LongLike).unsigned === 'boolean'
  );
}

/** A whole number from a number, bigint, Long or decimal string; undefined for anything else. */
function wholeNumber(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : undefined;
  if (isLongLike(value)) return BigInt(value.toString());
  if (typeof value === 'string' && /^-?\d{1,30}$/.test(value)) return BigInt(value);
  return undefined;
}

const millisPer: Record<TimeUnit, bigint> = { s: 1n, ms: 1n, us: 1_000n, ns: 1_000_000n };

function epochToMillis(value: number | bigint, unit: TimeUnit): number {
  if (typeof value === 'number') {
    if (unit === 's') return Math.floor(value * 1_000);
    if (unit === 'ms') return Math.floor(value);
    return Math.floor(value / Number(millisPer[unit]));
  }
  if (unit === 's') return Number(value * 1_000n);
  // bigint division truncates toward zero; floor keeps instants before 1970 in the right millisecond.
  const divisor = millisPer[unit];
  const quotient = value / divisor;
  return Number(value % divisor < 0n ? quotient - 1n : quotient);
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'an invalid Date';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Any usual representation of an instant, as Gong's ISO 8601 UTC with milliseconds:
 * a Date (avsc with a logical type registered), epoch seconds/ms/µs/ns as a number, bigint, Long
 * or digit string (Avro timestamp-millis and timestamp-micros decode to numbers), an RFC 3339
 * string with an offset, or a Protobuf Timestamp `{seconds, nanos}`.
 */
export function toGongTimestamp(value: unknown, unit: TimeUnit = 'ms'): string | undefined {
  if (value === undefined || value === null) return undefined;
  let millis: number | undefined;
  if (value instanceof Date) {
    millis = value.getTime();
  } else if (typeof value === 'number') {
    millis = Number.isFinite(value) ? epochToMillis(value, unit) : undefined;
  } else if (typeof value === 'string') {
    if (isIsoDateTime(value)) millis = Date.parse(value);
    else {
      const whole = wholeNumber(value);
      millis = whole === undefined ? undefined : epochToMillis(whole, unit);
    }
  } else if (typeof value === 'object' && !isLongLike(value) && 'seconds' in value) {
    const seconds = wholeNumber((value as { seconds: unknown }).seconds);
    const nanosRaw = (value as { nanos?: unknown }).nanos ?? 0;
    const nanos = wholeNumber(nanosRaw);
    if (seconds !== undefined && nanos !== undefined)
      millis = epochToMillis(seconds * 1_000_000_000n + nanos, 'ns');
  } else {
    const whole = wholeNumber(value);
    millis = whole === undefined ? undefined : epochToMillis(whole, unit);
  }
  const iso = millis === undefined ? undefined : toIsoTimestamp(millis);
  if (iso === undefined) {
    throw new MappingHelperError(
      'timestamp',
      `cannot read ${describe(value)} as a time: expected epoch ${unit === 'ms' ? 'milliseconds' : unit} ` +
        '(years 0000-9999), an ISO 8601 date-time with seconds and a UTC offset, a Date or a Protobuf Timestamp {seconds, nanos}',
    );
  }
  return iso;
}

// A heuristic, not a parser: Gong only knows MOBILE and PC, and every phone and tablet browser
// announces itself with one of these tokens. A mapping that needs more writes its own condition.
const MOBILE_AGENT =
  /Mobi|Android|iPhone|iPad|iPod|Windows Phone|BlackBerry|BB10|Opera Mini|IEMobile|Kindle|Silk|webOS/i;

export function deviceFromUserAgent(userAgent: unknown): 'MOBILE' | 'PC' | undefined {
  if (isAbsentValue(userAgent)) return undefined;
  if (typeof userAgent !== 'string')
    throw new MappingHelperError('device', `expects a user-agent string, got ${describe(userAgent)}`);
  return MOBILE_AGENT.test(userAgent) ? 'MOBILE' : 'PC';
}

/** The text a custom field carries for a scalar, and the dataType that text has. */
function customValue(helper: string, value: unknown): { text: string; dataType: CustomFieldDataType } {
  if (typeof value === 'string') return { text: value, dataType: 'STRING' };
  if (typeof value === 'number' && Number.isFinite(value)) return { text: String(value), dataType: 'NUMBER' };
  if (typeof value === 'bigint' || isLongLike(value)) return { text: value.toString(), dataType: 'NUMBER' };
  if (typeof value === 'boolean') return { text: String(value), dataType: 'BOOLEAN' };
  if (value instanceof Date) {
    const iso = toIsoTimestamp(value);
    if (iso !== undefined) return { text: iso, dataType: 'DATE' };
  }
  throw new MappingHelperError(
    helper,
    `a custom field value must be text, a number, a boolean or a date, got ${describe(value)}`,
  );
}

function dataTypeArgument(helper: string, dataType: unknown): CustomFieldDataType | undefined {
  if (dataType === undefined || dataType === null) return undefined;
  if (typeof dataType === 'string' && (customFieldDataTypeValues as readonly string[]).includes(dataType))
    return dataType as CustomFieldDataType;
  throw new MappingHelperError(
    helper,
    `dataType must be one of ${customFieldDataTypeValues.join(', ')}, got ${describe(dataType)}`,
  );
}

export interface CustomFieldValue {
  readonly name: string;
  readonly value: string;
  readonly dataType: CustomFieldDataType;
}

export function customField(
  name: unknown,
  value: unknown,
  dataType?: unknown,
  helper = 'customField',
): CustomFieldValue | undefined {
  if (typeof name !== 'string' || isBlank(name))
    throw new MappingHelperError(helper, `the name must be non-empty text, got ${describe(name)}`);
  const declared = dataTypeArgument(helper, dataType);
  if (isAbsentValue(value)) return undefined;
  const { text, dataType: inferred } = customValue(helper, value);
  return { name, value: text, dataType: declared ?? inferred };
}

export function customFieldsFromMap(map: unknown, dataType?: unknown): CustomFieldValue[] | undefined {
  if (map === undefined || map === null) return undefined;
  if (typeof map !== 'object' || Array.isArray(map) || map instanceof Date)
    throw new MappingHelperError(
      'customFields',
      `expects an object or map of name to value, got ${describe(map)}`,
    );
  const out: CustomFieldValue[] = [];
  const entries = map instanceof Map ? [...(map as Map<unknown, unknown>)] : Object.entries(map);
  for (const [name, value] of entries) {
    const field = customField(name, value, dataType, 'customFields');
    if (field !== undefined) out.push(field);
  }
  return out;
}

/** A number from a number, bigint, Long or numeric string (protobufjs int64 in any form). */
function numeric(helper: string, value: unknown): number | undefined {
  if (isAbsentValue(value)) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint' || isLongLike(value)) return Number(value.toString());
  if (typeof value === 'string' && /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value.trim()))
    return Number(value);
  throw new MappingHelperError(helper, `expects a number, got ${describe(value)}`);
}

/**
 * How much of `total` `part` is, as a whole percentage 0..100 (rounded down, clamped: players
 * report a position a little past the end). Absent when either is absent or total is not positive.
 */
export function percentOf(part: unknown, total: unknown): number | undefined {
  const value = numeric('percent', part);
  const whole = numeric('percent', total);
  if (value === undefined || whole === undefined || whole <= 0) return undefined;
  return Math.min(100, Math.max(0, Math.floor((value * 100) / whole)));
}

export function coalesce(values: readonly unknown[]): unknown {
  for (const value of values) if (!isAbsentValue(value)) return value;
  return undefined;
}

/** RFC 9562 URL namespace: `uuid.uuid5(uuid.NAMESPACE_URL, name)` in Python gives the same id. */
const URL_NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');

export function uuidV5(name: string): string {
  const digest = hash('sha1', Buffer.concat([URL_NAMESPACE, Buffer.from(name, 'utf8')]), 'buffer');
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A value as it enters the eventId's name: JSON, with every decoder-specific type made plain. */
function canonical(value: unknown, path: string): unknown {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MappingHelperError('eventId', `field ${path} is ${value}`);
    return value;
  }
  if (typeof value === 'bigint' || isLongLike(value)) return value.toString();
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()))
      throw new MappingHelperError('eventId', `field ${path} is an invalid Date`);
    return value.toISOString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((item, index) => canonical(item, `${path}[${index}]`));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = canonical(item, `${path}.${key}`);
    }
    return out;
  }
  throw new MappingHelperError('eventId', `field ${path} holds a ${typeof value}`);
}

/** Reads `a.b.c` from the event the way a JSONata path over objects does (own properties only). */
const splitPaths = new Map<string, readonly string[]>();

export function readField(root: unknown, path: string): unknown {
  let segments = splitPaths.get(path);
  if (segments === undefined) {
    segments = path.split('.');
    // Field names come from mapping files, so this stays small; the bound guards against misuse.
    if (splitPaths.size < 10_000) splitPaths.set(path, segments);
  }
  let value = root;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/**
 * A stable eventId for events that carry no unique id of their own: a UUID v5 (SHA-1, URL
 * namespace) of the JSON array `[namespace, value1, value2, ...]` of the named fields. The same
 * event gives the same id on every replica and after every restart, so Gong's deduplication
 * still works on replays. Every named field must be present: an absent one would make different
 * events share an id, and Gong would drop all but the first as duplicates, silently.
 */
export function stableEventId(root: unknown, fields: unknown, namespace?: unknown): string {
  const names = typeof fields === 'string' ? [fields] : fields;
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    !names.every((name) => typeof name === 'string' && name !== '')
  )
    throw new MappingHelperError(
      'eventId',
      "expects a list of field names, e.g. $eventId(['userId', 'occurredAt'])",
    );
  if (namespace !== undefined && typeof namespace !== 'string')
    throw new MappingHelperError('eventId', `the namespace must be text, got ${describe(namespace)}`);
  const parts: unknown[] = [namespace ?? ''];
  for (const name of names as string[]) {
    const value = readField(root, name);
    if (isAbsentValue(value)) {
      throw new MappingHelperError(
        'eventId',
        `field ${name} is absent; every named field must be present, or two different events would share an id`,
      );
    }
    parts.push(canonical(value, name));
  }
  return uuidV5(JSON.stringify(parts));
}

function unitArgument(unit: unknown): TimeUnit {
  if (unit === undefined) return 'ms';
  if (typeof unit === 'string' && (timeUnits as readonly string[]).includes(unit)) return unit as TimeUnit;
  throw new MappingHelperError(
    'timestamp',
    `the unit must be one of ${timeUnits.join(', ')}, got ${describe(unit)}`,
  );
}

export const mappingHelpers: readonly MappingHelper[] = [
  {
    name: 'timestamp',
    usage: '$timestamp(value, unit?)',
    doc:
      "Gong's timestamp (ISO 8601 UTC, milliseconds) from epoch time (`unit`: `s`, `ms` (default), `us`, `ns`) as a number, bigint, Long or digit string; " +
      'an RFC 3339 string with an offset; a Date; or a Protobuf Timestamp `{seconds, nanos}`. Absent in, absent out.',
    call: (_root, [value, unit]) => toGongTimestamp(value, unitArgument(unit)),
  },
  {
    name: 'device',
    usage: '$device(userAgent)',
    doc: '`MOBILE` for phone and tablet user agents, `PC` for any other, absent when the user agent is absent.',
    call: (_root, [userAgent]) => deviceFromUserAgent(userAgent),
  },
  {
    name: 'eventId',
    usage: '$eventId(fieldNames, namespace?)',
    doc:
      'A stable id from the named fields (dotted paths into the event): UUID v5 (URL namespace) of the JSON array `[namespace, value1, ...]`. ' +
      'Every named field must be present, otherwise the record fails with MAPPING_FAILED.',
    call: (root, [fields, namespace]) => stableEventId(root, fields, namespace),
  },
  {
    name: 'customField',
    usage: '$customField(name, value, dataType?)',
    doc:
      'One custom field `{name, value, dataType}`; the value is written as text and dataType inferred (NUMBER, BOOLEAN, DATE, STRING) unless given. ' +
      'Absent when the value is absent or blank.',
    call: (_root, [name, value, dataType]) => customField(name, value, dataType),
  },
  {
    name: 'customFields',
    usage: '$customFields(map, dataType?)',
    doc: 'One custom field per entry of an object or map (Avro map, JSON object, Protobuf map), skipping absent values.',
    call: (_root, [map, dataType]) => customFieldsFromMap(map, dataType),
  },
  {
    name: 'percent',
    usage: '$percent(part, total)',
    doc:
      'Whole percentage of `total` that `part` is, rounded down and clamped to 0..100 (for numericContentDetails). ' +
      'Takes numbers, bigints, Longs or numeric text; absent when either is absent or total is not positive.',
    call: (_root, [part, total]) => percentOf(part, total),
  },
  {
    name: 'coalesce',
    usage: '$coalesce(value1, value2, ...)',
    doc: 'The first value that is present: not absent, null or blank text.',
    call: (_root, values) => coalesce(values),
  },
];

export const mappingHelperNames: ReadonlySet<string> = new Set(mappingHelpers.map((helper) => helper.name));
