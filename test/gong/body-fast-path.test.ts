import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFastPath, fastPathKeys, FastVerdict } from '../../src/gong/body-fast-path.ts';
import { unboundedBodyLimits, type GongBodyLimits } from '../../src/gong/body-rules.ts';
import {
  buildGongBodySchema,
  companyObjectTypeValues,
  customFieldDataTypeValues,
  deviceValues,
  INT32_MAX,
  INT32_MIN,
  numericTypeValues,
  personObjectTypeValues,
  searchObjectTypeValues,
} from '../../src/gong/body-schema.ts';
import { inferredRuleNames } from '../../src/gong/rule-catalogue.ts';
import { createGongBodyValidator, defaultBodyLimits, inferredRuleOf } from '../../src/gong/validate.ts';

// Small limits, so strings and lists land on both sides of them cheaply; the default and the
// unbounded (sandbox) limits are compared too.
const limits: GongBodyLimits = { maxStringLength: 12, maxListItems: 4 };
const MAX_TEXT_LENGTH = limits.maxStringLength;
const MAX_LIST_ITEMS = limits.maxListItems;

// Each leaf is usually valid and sometimes wrong in one of the ways that matter, so bodies land on
// both sides of every rule and the two validators are compared where they could drift apart.
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
const junk = fc.constantFrom<unknown>(undefined, null, 7, true, [], {}, 'x');

// Strings on either side of the length caps, so both validators are held equal at the edge.
const longest = 'a'.repeat(MAX_TEXT_LENGTH);
const tooLong = 'a'.repeat(MAX_TEXT_LENGTH + 1);
const requiredString = mostly(
  fc.constantFrom('x', 'Module 1', 'acme.com', 'anon-1', longest),
  fc.constantFrom<unknown>('', ' ', 5, null, undefined, tooLong),
);
const optionalString = mostly(
  fc.constantFrom<unknown>(undefined, null, '', ' ', 'x', 'acme.com', longest),
  fc.constantFrom<unknown>(1, false, {}, tooLong),
);
const int32 = mostly(
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom<unknown>(
    INT32_MAX,
    INT32_MAX + 1,
    INT32_MIN,
    INT32_MIN - 1,
    1.5,
    Number.NaN,
    '5',
    null,
    undefined,
  ),
);
const member = (values: readonly string[]) =>
  mostly(
    fc.constantFrom<unknown>(...values),
    fc.constantFrom<unknown>('x', values[0]!.toLowerCase(), 1, null, undefined),
  );
const optionalMember = (values: readonly string[]) =>
  fc.oneof(fc.constantFrom<unknown>(undefined, null), member(values));
const timestamp = mostly(
  fc.constantFrom('2025-01-31T12:00:00Z', '2024-02-29T00:00:00.5+05:30', '1970-01-01T00:00:00.000Z'),
  fc.constantFrom<unknown>('2025-02-29T00:00:00Z', '2025-01-31', '2025-01-31T12:00:00', 0, null),
);
const withExtraKey = <T extends object>(arb: fc.Arbitrary<T>) =>
  fc
    .tuple(arb, fc.integer({ min: 0, max: 30 }))
    .map(([value, roll]) => (roll === 0 ? { ...value, unexpected: 1 } : value));
const record = <T extends Record<string, fc.Arbitrary<unknown>>>(shape: T, requiredKeys: (keyof T)[] = []) =>
  withExtraKey(fc.record(shape, { requiredKeys: requiredKeys as never[] }));
const optional = (arb: fc.Arbitrary<unknown>) =>
  fc.oneof(fc.constantFrom<unknown>(undefined, null), arb, arb);
const array = (arb: fc.Arbitrary<unknown>, minLength = 0) =>
  mostly(
    fc.oneof(
      { arbitrary: fc.array(arb, { minLength, maxLength: 3 }), weight: 20 },
      // Lists at and just past MAX_LIST_ITEMS, built from one sampled item to stay cheap.
      {
        arbitrary: fc
          .tuple(arb, fc.constantFrom(MAX_LIST_ITEMS, MAX_LIST_ITEMS + 1))
          .map(([item, n]) => Array.from({ length: n }, () => item)),
        weight: 1,
      },
    ),
    junk,
  );

const customFieldValue = fc.constantFrom(
  '1',
  '-2.5e3',
  'abc',
  'true',
  'FALSE',
  '2025-01-31',
  '2025-02-30',
  'https://x.io',
  'x.io',
  '90',
  '-5',
  '',
  ' ',
  'b'.repeat(MAX_TEXT_LENGTH),
  'b'.repeat(MAX_TEXT_LENGTH + 1),
);
const customField = record(
  {
    name: requiredString,
    value: mostly(customFieldValue, junk),
    dataType: optionalMember(customFieldDataTypeValues),
  },
  ['name', 'value'],
);
const steps = fc.constantFrom('Module 1', 'Module 2', 'x', ' ');
const content = record(
  {
    contentId: optionalString,
    contentTitle: requiredString,
    contentLabel: optional(array(mostly(fc.string({ maxLength: 3 }), junk))),
    contentUrl: optionalString,
    contentAdditionalInfoUrl: optionalString,
    numericContentDetails: optional(
      record(
        {
          value: optional(int32),
          rangeFrom: int32,
          rangeTo: int32,
          numericType: optionalMember(numericTypeValues),
        },
        ['rangeFrom', 'rangeTo'],
      ),
    ),
    stepContentDetails: optional(
      record({ value: mostly(steps, junk), availableSteps: array(mostly(steps, junk), 0) }, [
        'value',
        'availableSteps',
      ]),
    ),
    searchObjectDetails: optional(
      record(
        {
          name: requiredString,
          objectType: member(searchObjectTypeValues),
          domain: requiredString,
          objectId: optionalString,
          url: optionalString,
        },
        ['name', 'objectType', 'domain'],
      ),
    ),
    contentCustomFields: optional(array(customField)),
  },
  ['contentTitle'],
);
const businessContext = (values: readonly string[]) =>
  record({ objectType: member(values), objectId: requiredString, systemName: optionalString }, [
    'objectType',
    'objectId',
  ]);
const person = record({
  name: optionalString,
  email: optionalString,
  phoneNumber: optionalString,
  personId: optionalString,
  personBusinessContext: optional(businessContext(personObjectTypeValues)),
  location: optional(
    record({ country: optionalString, state: optionalString, region: optionalString, city: optionalString }),
  ),
  company: optional(
    record({
      companyId: optionalString,
      name: optionalString,
      domain: optionalString,
      companyBusinessContexts: optional(array(businessContext(companyObjectTypeValues))),
    }),
  ),
  personCustomFields: optional(array(customField)),
});
const body = mostly(
  record(
    {
      eventId: requiredString,
      timestamp,
      eventType: requiredString,
      sourceSystemName: optionalString,
      sessionId: optionalString,
      device: optionalMember(deviceValues),
      content: mostly(content, junk),
      person: fc.oneof(fc.constantFrom<unknown>(undefined, null), person),
      customFields: optional(array(customField)),
      trackingId: fc.oneof(fc.constantFrom<unknown>(undefined, null, undefined, null, 'trk-1', '')),
    },
    ['eventId', 'timestamp', 'eventType', 'content'],
  ),
  fc.anything(),
);

/** The tier zod puts a body in: no issue, only inferred rules' issues, or any other issue. */
function zodVerdict(schema: ReturnType<typeof buildGongBodySchema>['body'], candidate: unknown): FastVerdict {
  const result = schema.safeParse(candidate);
  if (result.success) return FastVerdict.clean;
  const inferredOnly = result.error.issues.every((issue) => inferredRuleOf(issue) !== undefined);
  return inferredOnly ? FastVerdict.flagged : FastVerdict.invalid;
}

describe('createFastPath', () => {
  it('knows exactly the fields of every object in the zod model', () => {
    const schemas = buildGongBodySchema(limits);
    const keysOf = (schema: { shape: object }) => Object.keys(schema.shape).sort();
    const sorted = (keys: ReadonlySet<string>) => [...keys].sort();
    expect(sorted(fastPathKeys.body)).toEqual(keysOf(schemas.body));
    expect(sorted(fastPathKeys.content)).toEqual(keysOf(schemas.content));
    expect(sorted(fastPathKeys.numericContentDetails)).toEqual(keysOf(schemas.numericContentDetails));
    expect(sorted(fastPathKeys.stepContentDetails)).toEqual(keysOf(schemas.stepContentDetails));
    expect(sorted(fastPathKeys.searchObjectDetails)).toEqual(keysOf(schemas.searchObjectDetails));
    expect(sorted(fastPathKeys.customField)).toEqual(keysOf(schemas.customField));
    expect(sorted(fastPathKeys.person)).toEqual(keysOf(schemas.person));
    expect(sorted(fastPathKeys.businessContext)).toEqual(keysOf(schemas.personBusinessContext));
    expect(sorted(fastPathKeys.businessContext)).toEqual(keysOf(schemas.companyBusinessContext));
    expect(sorted(fastPathKeys.location)).toEqual(keysOf(schemas.location));
    expect(sorted(fastPathKeys.company)).toEqual(keysOf(schemas.company));
  });

  it('puts any body in the same tier as the zod model: clean, flagged (inferred only) or invalid', () => {
    const fast = createFastPath(limits);
    const schema = buildGongBodySchema(limits).body;
    const seen = { [FastVerdict.clean]: 0, [FastVerdict.flagged]: 0, [FastVerdict.invalid]: 0 };
    const rules = new Set<string>();
    fc.assert(
      fc.property(body, (candidate) => {
        const expected = zodVerdict(schema, candidate);
        seen[expected] += 1;
        if (expected === FastVerdict.flagged) {
          for (const issue of schema.safeParse(candidate).error?.issues ?? [])
            rules.add(inferredRuleOf(issue)!);
        }
        expect(fast(candidate)).toBe(expected);
      }),
      { numRuns: 6_000 },
    );
    // Guards the generator itself: a comparison that never sees one of the tiers proves little,
    // and every inferred rule must be seen alone (flagged) at least once.
    const total = seen[FastVerdict.clean] + seen[FastVerdict.flagged] + seen[FastVerdict.invalid];
    expect(seen[FastVerdict.clean] / total).toBeGreaterThan(0.02);
    expect(seen[FastVerdict.flagged] / total).toBeGreaterThan(0.02);
    expect(seen[FastVerdict.invalid] / total).toBeGreaterThan(0.1);
    expect([...rules].sort()).toEqual([...inferredRuleNames].sort());
  });

  it.each([
    ['the default limits', defaultBodyLimits],
    ['no limits (the sandbox)', unboundedBodyLimits],
  ])('agrees with the zod model under %s', (_label, other) => {
    const fast = createFastPath(other);
    const schema = buildGongBodySchema(other).body;
    fc.assert(
      fc.property(body, (candidate) => {
        expect(fast(candidate)).toBe(zodVerdict(schema, candidate));
      }),
      { numRuns: 1_500 },
    );
  });

  it('leaves every rejection with errors, and every warning, of the form <path>: <message>', () => {
    const validate = createGongBodyValidator({ limits, rejects: (rule) => rule.startsWith('numeric') });
    fc.assert(
      fc.property(body, (candidate) => {
        const result = validate(candidate);
        if (!result.ok) expect(result.errors.length).toBeGreaterThan(0);
        const problems = [...(result.ok ? [] : result.errors), ...(result.warnings ?? [])];
        for (const problem of problems) expect(problem).toMatch(/^(\(root\)|[A-Za-z_$[]).*?: \S/);
        for (const warning of result.warnings ?? []) {
          expect(warning).toMatch(/ \[inferred rule (?!numeric)[a-z-]+\]$/);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
