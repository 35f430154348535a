import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createFastPath, FastVerdict } from '../../src/gong/body-fast-path.ts';
import { unboundedBodyLimits, type GongBodyLimits } from '../../src/gong/body-rules.ts';
import {
  companyObjectTypeValues,
  customFieldDataTypeValues,
  deviceValues,
  numericTypeValues,
  personObjectTypeValues,
  searchObjectTypeValues,
} from '../../src/gong/body-schema.ts';
import { inferredRuleNames } from '../../src/gong/rule-catalogue.ts';
import {
  contractValidator,
  createGongBodyValidator,
  defaultBodyLimits,
  defaultValidationSettings,
  formatPath,
  gongBodySchemas,
  gongValidatorOptions,
  MAX_REPORTED_PROBLEMS,
  validateGongBody,
  verdictOf,
  type GongBodyValidator,
} from '../../src/gong/validate.ts';
import { fullBody, minimalBody, patch } from './body-fixtures.ts';

const ANONYMOUS =
  'required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)';

// Small limits keep the limit tests cheap; the default ones are checked apart.
const limits: GongBodyLimits = { maxStringLength: 1_000, maxListItems: 100 };
const MAX_TEXT_LENGTH = limits.maxStringLength;
const MAX_LIST_ITEMS = limits.maxListItems;
const fast = createFastPath(limits);
const schema = gongBodySchemas(limits).body;
/** Every inferred rule rejects, so each problem of either tier shows up as an error. */
const strict = createGongBodyValidator({ limits, rejects: () => true });

/** `message [inferred rule <name>]`: how an inferred rule's problem reads. */
const inferred = (text: string, rule: string) => `${text} [inferred rule ${rule}]`;

function errorsOf(body: unknown): string[] {
  const result = strict(body);
  // Whatever the verdict, the fast path and the zod model must agree on it.
  expect(fast(body) === FastVerdict.clean).toBe(schema.safeParse(body).success);
  return result.ok ? [] : result.errors;
}

function expectValid(body: unknown): void {
  const result = strict(body);
  expect(result.ok ? [] : result.errors).toEqual([]);
  expect(fast(body)).toBe(FastVerdict.clean);
  expect(schema.safeParse(body).success).toBe(true);
}

describe('validateGongBody', () => {
  it('accepts a body using every field, and returns it unchanged', () => {
    const body = fullBody();
    delete (body.person as Record<string, unknown>).personId;
    const result = validateGongBody(body);
    expect(result).toEqual({ ok: true, body });
  });

  it('accepts the smallest body: eventId, timestamp, eventType and content.contentTitle', () => {
    expectValid(minimalBody());
  });

  it('accepts null for every optional field', () => {
    expectValid({
      ...minimalBody(),
      sourceSystemName: null,
      sessionId: null,
      device: null,
      person: null,
      customFields: null,
      trackingId: null,
      content: {
        contentTitle: 't',
        contentId: null,
        contentLabel: null,
        contentUrl: null,
        contentAdditionalInfoUrl: null,
        numericContentDetails: null,
        stepContentDetails: null,
        searchObjectDetails: null,
        contentCustomFields: null,
      },
    });
  });

  describe('required fields', () => {
    const required: [string, string][] = [
      ['eventId', 'eventId'],
      ['timestamp', 'timestamp'],
      ['eventType', 'eventType'],
      ['content', 'content'],
      ['content.contentTitle', 'content.contentTitle'],
      ['content.numericContentDetails.rangeFrom', 'content.numericContentDetails.rangeFrom'],
      ['content.numericContentDetails.rangeTo', 'content.numericContentDetails.rangeTo'],
      ['content.stepContentDetails.value', 'content.stepContentDetails.value'],
      ['content.stepContentDetails.availableSteps', 'content.stepContentDetails.availableSteps'],
      ['content.searchObjectDetails.name', 'content.searchObjectDetails.name'],
      ['content.searchObjectDetails.objectType', 'content.searchObjectDetails.objectType'],
      ['content.searchObjectDetails.domain', 'content.searchObjectDetails.domain'],
      ['content.contentCustomFields[0].name', 'content.contentCustomFields[0].name'],
      ['content.contentCustomFields[0].value', 'content.contentCustomFields[0].value'],
      ['person.personBusinessContext.objectType', 'person.personBusinessContext.objectType'],
      ['person.personBusinessContext.objectId', 'person.personBusinessContext.objectId'],
      [
        'person.company.companyBusinessContexts[0].objectType',
        'person.company.companyBusinessContexts[0].objectType',
      ],
      [
        'person.company.companyBusinessContexts[0].objectId',
        'person.company.companyBusinessContexts[0].objectId',
      ],
      ['person.personCustomFields[0].name', 'person.personCustomFields[0].name'],
      ['person.personCustomFields[0].value', 'person.personCustomFields[0].value'],
      ['customFields[0].name', 'customFields[0].name'],
      ['customFields[0].value', 'customFields[0].value'],
    ];

    it.each(required)('reports %s when missing', (field, path) => {
      expect(errorsOf(patch(fullBody(), field, undefined))).toEqual([`${path}: required`]);
    });

    it.each(required.filter(([field]) => field !== 'content'))('reports %s when null', (field, path) => {
      expect(errorsOf(patch(fullBody(), field, null))).toEqual([`${path}: required, got null`]);
    });

    const requiredStrings = [
      'eventId',
      'eventType',
      'content.contentTitle',
      'content.stepContentDetails.availableSteps[2]',
      'content.searchObjectDetails.name',
      'content.searchObjectDetails.domain',
      'content.contentCustomFields[0].name',
      'person.personBusinessContext.objectId',
      'person.company.companyBusinessContexts[1].objectId',
      'customFields[0].name',
    ];

    it.each(requiredStrings)(
      'flags %s when empty or blank (inferred: the contract asks only for the field)',
      (field) => {
        expect(errorsOf(patch(fullBody(), field, ''))).toEqual([
          inferred(`${field}: must not be empty`, 'blank-required-string'),
        ]);
        expect(errorsOf(patch(fullBody(), field, ' \t'))).toEqual([
          inferred(`${field}: must not be blank`, 'blank-required-string'),
        ]);
      },
    );

    it('flags a custom field value that is empty', () => {
      expect(errorsOf(patch(fullBody(), 'person.personCustomFields[0].value', ''))).toEqual([
        inferred('person.personCustomFields[0].value: must not be empty', 'blank-required-string'),
      ]);
    });

    it('accepts empty strings in optional fields', () => {
      expectValid(patch(patch(fullBody(), 'sessionId', ''), 'content.contentUrl', ''));
    });
  });

  describe('types', () => {
    it.each([
      ['eventId', 42, 'eventId: expected string, got number'],
      ['content', 'x', 'content: expected object, got string'],
      ['content.contentLabel', 'tag', 'content.contentLabel: expected array, got string'],
      ['content.contentLabel[1]', 7, 'content.contentLabel[1]: expected string, got number'],
      ['person', [], 'person: expected object, got array'],
      ['customFields', {}, 'customFields: expected array, got object'],
      ['timestamp', 1738324800000, 'timestamp: expected string, got number'],
    ])('reports %s = %j', (field, value, error) => {
      expect(errorsOf(patch(fullBody(), field, value))).toEqual([error]);
    });

    it('reports a body that is not an object at the root', () => {
      expect(errorsOf('hello')).toEqual(['(root): expected object, got string']);
      expect(errorsOf([])).toEqual(['(root): expected object, got array']);
      expect(errorsOf(null)).toEqual(['(root): required, got null']);
    });

    it('reports unknown fields with their full path (inferred: Gong may ignore them)', () => {
      expect(errorsOf(patch(fullBody(), 'content.contentTitel', 'x'))).toEqual([
        inferred('content.contentTitel: unknown field', 'unknown-field'),
      ]);
      expect(errorsOf(patch(fullBody(), 'person.company.companyBusinessContexts[0].crmId', 'x'))).toEqual([
        inferred('person.company.companyBusinessContexts[0].crmId: unknown field', 'unknown-field'),
      ]);
      expect(errorsOf({ ...minimalBody(), extra: 1 })).toEqual([
        inferred('extra: unknown field', 'unknown-field'),
      ]);
    });

    it('cuts a long unknown key short in the path', () => {
      const [error] = errorsOf({ ...minimalBody(), ['k'.repeat(10_000)]: 1 });
      expect(error).toMatch(/^\["k{57}\.\.\."\]: unknown field/);
    });
  });

  describe('timestamp', () => {
    it.each([
      '2025-01-31T12:00:00Z',
      '2025-01-31T12:00:00.123Z',
      '2025-01-31T12:00:00.123456+05:30',
      '2024-02-29T23:59:59-08:00',
      // RFC 3339 section 5.6: "T" and "Z" may be lower case.
      '2025-01-31t12:00:00z',
    ])('accepts %s', (timestamp) => {
      expectValid(patch(minimalBody(), 'timestamp', timestamp));
    });

    it.each([
      'yesterday',
      '2025-01-31',
      '2025-01-31T12:00:00',
      '2025-01-31T12:00Z',
      '2025-02-29T12:00:00Z',
      '2025-04-31T12:00:00Z',
      '2025-13-01T12:00:00Z',
      '2025-01-31T24:00:00Z',
      '2025-01-31 12:00:00Z',
      '+010000-01-01T00:00:00.000Z',
    ])('rejects %s', (timestamp) => {
      const errors = errorsOf(patch(minimalBody(), 'timestamp', timestamp));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^timestamp: must be an ISO 8601 date-time with seconds and a UTC offset/);
    });
  });

  describe('enums', () => {
    const enums: [string, readonly string[], string][] = [
      ['device', deviceValues, 'TABLET'],
      ['content.numericContentDetails.numericType', numericTypeValues, 'PERCENT'],
      ['content.searchObjectDetails.objectType', searchObjectTypeValues, 'COMPANY'],
      ['person.personBusinessContext.objectType', personObjectTypeValues, 'ACCOUNT'],
      ['person.company.companyBusinessContexts[0].objectType', companyObjectTypeValues, 'CONTACT'],
    ];

    it.each(enums)('%s accepts every documented value', (field, values) => {
      for (const value of values) expectValid(patch(fullBody(), field, value));
    });

    it.each(enums)('%s rejects anything else, including lower case', (field, values, wrong) => {
      expect(errorsOf(patch(fullBody(), field, wrong))).toEqual([
        `${field}: must be one of ${values.join(', ')}, got "${wrong}"`,
      ]);
      expect(errorsOf(patch(fullBody(), field, values[0]!.toLowerCase()))).toHaveLength(1);
    });

    it('custom field dataType accepts every documented value and defaults to STRING when absent', () => {
      const sample: Record<string, string> = {
        STRING: 'anything at all',
        NUMBER: '-12.5e3',
        DATE: '2025-01-31',
        URL: 'https://example.com/x',
        BOOLEAN: 'TRUE',
        DURATION: '90.5',
      };
      expect(Object.keys(sample).sort()).toEqual([...customFieldDataTypeValues].sort());
      for (const dataType of customFieldDataTypeValues) {
        expectValid(patch(minimalBody(), 'customFields', [{ name: 'f', value: sample[dataType], dataType }]));
      }
      expectValid(patch(minimalBody(), 'customFields', [{ name: 'f', value: 'not a number' }]));
      expect(
        errorsOf(patch(minimalBody(), 'customFields', [{ name: 'f', value: 'x', dataType: 'TEXT' }])),
      ).toEqual([
        'customFields[0].dataType: must be one of STRING, NUMBER, DATE, URL, BOOLEAN, DURATION, got "TEXT"',
      ]);
    });

    it.each([
      ['NUMBER', 'twelve', 'must be a number for dataType NUMBER'],
      ['NUMBER', '', 'must not be empty'],
      ['BOOLEAN', 'yes', 'must be true or false for dataType BOOLEAN'],
      ['DATE', 'Jan 31 2025', 'must be an ISO 8601 date for dataType DATE'],
      ['DATE', '2025-02-30', 'must be an ISO 8601 date for dataType DATE'],
      ['URL', 'example.com/x', 'must be an absolute URL for dataType URL'],
      ['DURATION', '-5', 'must be a non-negative number of seconds for dataType DURATION'],
      ['DURATION', '1h', 'must be a non-negative number of seconds for dataType DURATION'],
    ])('flags a %s custom field valued %j', (dataType, value, message) => {
      const body = patch(fullBody(), 'content.contentCustomFields', [{ name: 'f', value, dataType }]);
      const rule = value === '' ? 'blank-required-string' : 'custom-field-value-type';
      expect(errorsOf(body)).toEqual([inferred(`content.contentCustomFields[0].value: ${message}`, rule)]);
    });
  });

  describe('int32 numeric values', () => {
    const fields = [
      'content.numericContentDetails.value',
      'content.numericContentDetails.rangeFrom',
      'content.numericContentDetails.rangeTo',
    ];

    it('accepts the int32 bounds', () => {
      expectValid(
        patch(minimalBody(), 'content.numericContentDetails', {
          value: 0,
          rangeFrom: -2_147_483_648,
          rangeTo: 2_147_483_647,
        }),
      );
    });

    it.each(fields)('%s rejects values outside int32 and non-integers', (field) => {
      const base = patch(minimalBody(), 'content.numericContentDetails', {
        value: 0,
        rangeFrom: -2_147_483_648,
        rangeTo: 2_147_483_647,
      });
      for (const bad of [2_147_483_648, -2_147_483_649, 1.5, Number.NaN]) {
        const errors = errorsOf(patch(base, field, bad));
        expect(errors.length).toBeGreaterThan(0);
        expect(errors.every((error) => error.startsWith(`${field}: `))).toBe(true);
      }
      expect(errorsOf(patch(base, field, '5'))).toEqual([`${field}: expected number, got string`]);
    });
  });

  describe('numericContentDetails rules', () => {
    const numeric = (details: Record<string, unknown>) =>
      patch(minimalBody(), 'content.numericContentDetails', details);

    it('accepts a value on either end of the range and a single-point range', () => {
      expectValid(numeric({ value: 0, rangeFrom: 0, rangeTo: 10 }));
      expectValid(numeric({ value: 10, rangeFrom: 0, rangeTo: 10 }));
      expectValid(numeric({ value: 5, rangeFrom: 5, rangeTo: 5 }));
      expectValid(numeric({ rangeFrom: 0, rangeTo: 10 }));
    });

    it('flags rangeFrom above rangeTo', () => {
      expect(errorsOf(numeric({ rangeFrom: 10, rangeTo: 1 }))).toEqual([
        inferred(
          'content.numericContentDetails.rangeFrom: must not exceed rangeTo (1)',
          'numeric-range-order',
        ),
      ]);
    });

    it('flags a value outside the range', () => {
      const outside = inferred(
        'content.numericContentDetails.value: must be within rangeFrom..rangeTo (0..10)',
        'numeric-value-in-range',
      );
      expect(errorsOf(numeric({ value: 11, rangeFrom: 0, rangeTo: 10, numericType: 'NPS' }))).toEqual([
        outside,
      ]);
      expect(errorsOf(numeric({ value: -1, rangeFrom: 0, rangeTo: 10 }))).toEqual([outside]);
    });
  });

  describe('stepContentDetails rules', () => {
    const step = (details: Record<string, unknown>) =>
      patch(minimalBody(), 'content.stepContentDetails', details);

    it('flags an empty availableSteps', () => {
      expect(errorsOf(step({ value: 'A', availableSteps: [] }))).toEqual([
        inferred(
          'content.stepContentDetails.availableSteps: must have at least 1 item(s)',
          'steps-not-empty',
        ),
      ]);
    });

    it('flags a current step that is not among availableSteps', () => {
      expect(errorsOf(step({ value: 'C', availableSteps: ['A', 'B'] }))).toEqual([
        inferred(
          'content.stepContentDetails.value: must be one of availableSteps',
          'step-in-available-steps',
        ),
      ]);
    });
  });

  describe('person and trackingId', () => {
    it('accepts a person alone, a trackingId alone, or neither', () => {
      expectValid(fullBody());
      expectValid({ ...minimalBody(), trackingId: 'trk-1' });
      expectValid({ ...minimalBody(), trackingId: 'trk-1', person: null });
      expectValid({ ...minimalBody(), person: { name: 'Ada' }, trackingId: null });
      expectValid(minimalBody());
    });

    it('rejects both together, even when the trackingId is empty', () => {
      const error = 'trackingId: must be absent when person is sent (send either person or trackingId)';
      expect(errorsOf({ ...fullBody(), trackingId: 'trk-1' })).toEqual([error]);
      expect(errorsOf({ ...fullBody(), trackingId: '' })).toEqual([error]);
    });
  });

  describe('anonymous person', () => {
    const anonymous = { personId: 'anon-1', company: { domain: 'acme.com' } };

    it('accepts an anonymous person with personId and company.domain', () => {
      expectValid({ ...minimalBody(), person: anonymous });
    });

    it('requires personId', () => {
      expect(errorsOf({ ...minimalBody(), person: { company: { domain: 'acme.com' } } })).toEqual([
        `person.personId: ${ANONYMOUS}`,
      ]);
    });

    it('requires company.domain, whether company is missing or has no domain', () => {
      expect(errorsOf({ ...minimalBody(), person: { personId: 'anon-1' } })).toEqual([
        `person.company.domain: ${ANONYMOUS}`,
      ]);
      expect(
        errorsOf({ ...minimalBody(), person: { personId: 'anon-1', company: { name: 'Acme', domain: '' } } }),
      ).toEqual([`person.company.domain: ${ANONYMOUS}`]);
    });

    it('reports both for an empty person', () => {
      expect(errorsOf({ ...minimalBody(), person: {} })).toEqual([
        `person.personId: ${ANONYMOUS}`,
        `person.company.domain: ${ANONYMOUS}`,
      ]);
    });

    it('treats empty and null name, email and phoneNumber as absent', () => {
      const person = { name: '', email: null, phoneNumber: ' ', location: { country: 'US' } };
      expect(errorsOf({ ...minimalBody(), person })).toEqual([
        `person.personId: ${ANONYMOUS}`,
        `person.company.domain: ${ANONYMOUS}`,
      ]);
    });

    it.each([
      ['name', { name: 'Ada' }],
      ['email', { email: 'ada@acme.com' }],
      ['phoneNumber', { phoneNumber: '+1-555-0100' }],
      ['personBusinessContext', { personBusinessContext: { objectType: 'LEAD', objectId: '00Q1' } }],
    ])('does not apply once %s identifies the person', (_field, person) => {
      expectValid({ ...minimalBody(), person });
    });
  });

  describe('limits (GONG_MAX_STRING_LENGTH, GONG_MAX_LIST_ITEMS)', () => {
    const text = (length: number) => 'a'.repeat(length);
    const items = (count: number, item: (index: number) => unknown) =>
      Array.from({ length: count }, (_, index) => item(index));

    it.each([
      'eventId',
      'eventType',
      'sessionId',
      'content.contentTitle',
      'content.contentLabel[1]',
      'content.contentUrl',
      'content.stepContentDetails.availableSteps[0]',
      'content.searchObjectDetails.name',
      'content.searchObjectDetails.url',
      'content.contentCustomFields[0].name',
      'person.name',
      'person.email',
      'person.location.city',
      'person.company.companyBusinessContexts[0].objectId',
      'person.personCustomFields[0].value',
      'customFields[0].value',
    ])('caps %s at maxStringLength characters', (path) => {
      const fitting = patch(fullBody(), path, text(MAX_TEXT_LENGTH));
      // A capped step must still be one of availableSteps; a capped custom value must fit its type.
      let body = path.includes('availableSteps')
        ? patch(fitting, 'content.stepContentDetails.value', text(MAX_TEXT_LENGTH))
        : fitting;
      if (path === 'customFields[0].value') body = patch(body, 'customFields[0].dataType', 'STRING');
      expectValid(body);
      const over = patch(body, path, text(MAX_TEXT_LENGTH + 1));
      expect(errorsOf(over)).toContain(
        `${path}: must be at most ${MAX_TEXT_LENGTH} characters (GONG_MAX_STRING_LENGTH)`,
      );
    });

    it.each([
      ['customFields', (index: number) => ({ name: `f${index}`, value: 'v' })],
      ['content.contentCustomFields', (index: number) => ({ name: `f${index}`, value: 'v' })],
      ['person.personCustomFields', (index: number) => ({ name: `f${index}`, value: 'v' })],
      ['content.contentLabel', (index: number) => `label ${index}`],
      [
        'person.company.companyBusinessContexts',
        (index: number) => ({ objectType: 'ACCOUNT', objectId: `${index}` }),
      ],
    ] as const)('caps %s at maxListItems items', (path, item) => {
      expectValid(patch(fullBody(), path, items(MAX_LIST_ITEMS, item)));
      expect(errorsOf(patch(fullBody(), path, items(MAX_LIST_ITEMS + 1, item)))).toEqual([
        `${path}: must have at most ${MAX_LIST_ITEMS} items (GONG_MAX_LIST_ITEMS)`,
      ]);
    });

    it('caps availableSteps at maxListItems items', () => {
      const steps = items(MAX_LIST_ITEMS + 1, (index) => `Module ${index}`);
      const body = patch(fullBody(), 'content.stepContentDetails', {
        value: 'Module 1',
        availableSteps: steps,
      });
      expect(errorsOf(body)).toEqual([
        `content.stepContentDetails.availableSteps: must have at most ${MAX_LIST_ITEMS} items (GONG_MAX_LIST_ITEMS)`,
      ]);
    });

    it("are errors whatever the inferred rules are set to: they are the bridge's, not guesses about Gong", () => {
      const sending = createGongBodyValidator({ limits, rejects: () => false });
      const result = sending(patch(fullBody(), 'content.contentTitle', text(MAX_TEXT_LENGTH + 1)));
      expect(result).toEqual({
        ok: false,
        errors: [
          `content.contentTitle: must be at most ${MAX_TEXT_LENGTH} characters (GONG_MAX_STRING_LENGTH)`,
        ],
      });
    });

    // Regression guard: the error message of an overlong value must not echo it, or one event
    // could put megabytes (and PII) into a DLQ header and a log line.
    it('never repeats the overlong value in the error', () => {
      const errors = errorsOf(patch(fullBody(), 'person.email', `${text(5_000)}@acme.com`));
      expect(errors.join('\n').length).toBeLessThan(200);
    });

    it(`lists at most ${MAX_REPORTED_PROBLEMS} problems, so a list of bad items cannot flood a DLQ header`, () => {
      const body = patch(
        fullBody(),
        'content.contentLabel',
        items(MAX_LIST_ITEMS, () => 7),
      );
      const errors = errorsOf(body);
      expect(errors).toHaveLength(MAX_REPORTED_PROBLEMS);
      expect(errors.at(-1)).toBe(
        `(root): ${MAX_LIST_ITEMS - MAX_REPORTED_PROBLEMS + 1} more problems not listed`,
      );
    });

    it('default to the body limit for strings and 1,000 items for lists, from the settings', () => {
      const defaults = loadConfig({});
      expect(defaultBodyLimits).toEqual({
        maxStringLength: defaults.GONG_MAX_BODY_BYTES,
        maxListItems: defaults.GONG_MAX_LIST_ITEMS,
      });
      expect(defaultBodyLimits).toEqual({ maxStringLength: 1_048_576, maxListItems: 1_000 });
      // A string as long as a default body would take, and a list of 1,000 custom fields, pass.
      expectValidWith(validateGongBody, patch(minimalBody(), 'content.contentTitle', text(1_048_576)));
      const fields = items(1_000, (index) => ({ name: `f${index}`, value: 'v' }));
      expectValidWith(validateGongBody, patch(minimalBody(), 'customFields', fields));
      expect(validateGongBody(patch(minimalBody(), 'customFields', [...fields, fields[0]]))).toMatchObject({
        ok: false,
      });
    });
  });

  it('reports every problem in one pass, in a stable order', () => {
    const body = patch(
      patch(patch(fullBody(), 'eventId', ''), 'content.numericContentDetails.rangeTo', 1.5),
      'trackingId',
      'trk',
    );
    expect(errorsOf(body)).toEqual([
      inferred('eventId: must not be empty', 'blank-required-string'),
      'content.numericContentDetails.rangeTo: must be a 32-bit integer (-2147483648..2147483647), got 1.5',
      'trackingId: must be absent when person is sent (send either person or trackingId)',
    ]);
  });
});

function expectValidWith(validate: GongBodyValidator, body: unknown): void {
  const result = validate(body);
  expect(result.ok ? [] : result.errors).toEqual([]);
}

describe('the two tiers', () => {
  /** One body per inferred rule, breaking that rule alone. */
  const breaking: Record<(typeof inferredRuleNames)[number], Record<string, unknown>> = {
    'unknown-field': { ...minimalBody(), sourceSystemVersion: '1.0' },
    'blank-required-string': patch(minimalBody(), 'eventType', ' '),
    'numeric-range-order': patch(minimalBody(), 'content.numericContentDetails', {
      rangeFrom: 5,
      rangeTo: 1,
    }),
    'numeric-value-in-range': patch(minimalBody(), 'content.numericContentDetails', {
      value: 11,
      rangeFrom: 0,
      rangeTo: 10,
    }),
    'steps-not-empty': patch(minimalBody(), 'content.stepContentDetails', { value: 'A', availableSteps: [] }),
    'step-in-available-steps': patch(minimalBody(), 'content.stepContentDetails', {
      value: 'C',
      availableSteps: ['A', 'B'],
    }),
    'custom-field-value-type': patch(minimalBody(), 'customFields', [
      { name: 'score', value: 'high', dataType: 'NUMBER' },
    ]),
  };

  it('has a breaking body for every inferred rule', () => {
    expect(Object.keys(breaking).sort()).toEqual([...inferredRuleNames].sort());
  });

  it.each(Object.entries(breaking))(
    'sends a body that breaks only %s, unchanged, with a warning naming the rule (default)',
    (rule, body) => {
      const result = validateGongBody(body);
      expect(result).toEqual({
        ok: true,
        body,
        warnings: [expect.stringMatching(new RegExp(` \\[inferred rule ${rule}\\]$`))],
        inferredRules: [rule],
      });
    },
  );

  it.each(Object.entries(breaking))(
    'withholds a body that breaks %s when inferred rules reject',
    (rule, body) => {
      const rejecting = createGongBodyValidator(
        gongValidatorOptions({ ...defaultValidationSettings, GONG_INFERRED_RULES: 'reject' }),
      );
      expect(rejecting(body)).toEqual({
        ok: false,
        errors: [expect.stringMatching(new RegExp(` \\[inferred rule ${rule}\\]$`))],
        inferredRules: [rule],
      });
    },
  );

  it('GONG_INFERRED_RULES_REJECT withholds the listed rules only, and the rest are still sent', () => {
    const validate = createGongBodyValidator(
      gongValidatorOptions({
        ...defaultValidationSettings,
        GONG_INFERRED_RULES_REJECT: ['numeric-value-in-range'],
      }),
    );
    expect(validate(breaking['numeric-value-in-range'])).toMatchObject({
      ok: false,
      inferredRules: ['numeric-value-in-range'],
    });
    expect(validate(breaking['step-in-available-steps'])).toMatchObject({
      ok: true,
      inferredRules: ['step-in-available-steps'],
    });
    const both = {
      ...breaking['numeric-value-in-range'],
      content: {
        ...(breaking['numeric-value-in-range'].content as object),
        stepContentDetails: { value: 'C', availableSteps: ['A'] },
      },
    };
    expect(validate(both)).toEqual({
      ok: false,
      errors: [
        inferred(
          'content.numericContentDetails.value: must be within rangeFrom..rangeTo (0..10)',
          'numeric-value-in-range',
        ),
      ],
      warnings: [
        inferred(
          'content.stepContentDetails.value: must be one of availableSteps',
          'step-in-available-steps',
        ),
      ],
      inferredRules: ['numeric-value-in-range', 'step-in-available-steps'],
    });
  });

  it('keeps the warnings of a body withheld for a documented rule, and names the rules it broke', () => {
    const body = patch(breaking['numeric-range-order'], 'device', 'TABLET');
    expect(validateGongBody(body)).toEqual({
      ok: false,
      errors: ['device: must be one of MOBILE, PC, got "TABLET"'],
      warnings: [
        inferred(
          'content.numericContentDetails.rangeFrom: must not exceed rangeTo (1)',
          'numeric-range-order',
        ),
      ],
      inferredRules: ['numeric-range-order'],
    });
  });

  it('the contract validator (the sandbox) has no limits and refuses inferred rules only when strict', () => {
    const huge = patch(minimalBody(), 'content.contentTitle', 'a'.repeat(2_000_000));
    expectValidWith(contractValidator(), huge);
    expect(createFastPath(unboundedBodyLimits)(huge)).toBe(FastVerdict.clean);
    for (const body of Object.values(breaking)) {
      expect(contractValidator()(body).ok).toBe(true);
      expect(contractValidator(true)(body).ok).toBe(false);
    }
    expect(contractValidator()(patch(minimalBody(), 'device', 'TABLET')).ok).toBe(false);
  });
});

describe('formatPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    expect(formatPath(['person', 'company', 'companyBusinessContexts', 0, 'objectType'])).toBe(
      'person.company.companyBusinessContexts[0].objectType',
    );
    expect(formatPath([0, 'a'])).toBe('[0].a');
    expect(formatPath([])).toBe('(root)');
    expect(formatPath(['content', 'a b'])).toBe('content["a b"]');
  });
});

describe('verdictOf', () => {
  it("hands back a validator's own verdict on the very body it passed, and nothing else", () => {
    const lenient = contractValidator(false);
    const strict = contractValidator(true);
    const flagged = { ...minimalBody(), eventType: ' ' };
    const verdict = lenient(flagged);
    expect(verdict.ok).toBe(true);
    expect(verdictOf(flagged, lenient)).toBe(verdict);
    // Another validator, a copy of the body, a body it refused: no verdict to reuse.
    expect(verdictOf(flagged, strict)).toBeUndefined();
    expect(verdictOf({ ...flagged }, lenient)).toBeUndefined();
    expect(strict(flagged).ok).toBe(false);
    expect(verdictOf(flagged, strict)).toBeUndefined();
    expect(verdictOf('not a body', lenient)).toBeUndefined();
  });
});
