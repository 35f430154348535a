import { describe, expect, it } from 'vitest';
import { isValidGongBodyFast } from '../../src/gong/body-fast-path.ts';
import {
  companyObjectTypeValues,
  customFieldDataTypeValues,
  deviceValues,
  gongBodySchema,
  MAX_LIST_ITEMS,
  MAX_LONG_TEXT_LENGTH,
  MAX_TEXT_LENGTH,
  numericTypeValues,
  personObjectTypeValues,
  searchObjectTypeValues,
} from '../../src/gong/body-schema.ts';
import { formatPath, validateGongBody } from '../../src/gong/validate.ts';
import { fullBody, minimalBody, patch } from './body-fixtures.ts';

const ANONYMOUS =
  'required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)';

function errorsOf(body: unknown): string[] {
  const result = validateGongBody(body);
  // Whatever the verdict, the fast path and the zod model must agree on it.
  expect(isValidGongBodyFast(body)).toBe(gongBodySchema.safeParse(body).success);
  return result.ok ? [] : result.errors;
}

function expectValid(body: unknown): void {
  const result = validateGongBody(body);
  expect(result.ok ? [] : result.errors).toEqual([]);
  expect(isValidGongBodyFast(body)).toBe(true);
  expect(gongBodySchema.safeParse(body).success).toBe(true);
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

    it.each(requiredStrings)('rejects %s when empty or blank', (field) => {
      expect(errorsOf(patch(fullBody(), field, ''))).toEqual([`${field}: must not be empty`]);
      expect(errorsOf(patch(fullBody(), field, ' \t'))).toEqual([`${field}: must not be blank`]);
    });

    it('rejects a custom field value that is empty', () => {
      expect(errorsOf(patch(fullBody(), 'person.personCustomFields[0].value', ''))).toEqual([
        'person.personCustomFields[0].value: must not be empty',
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

    it('reports unknown fields with their full path', () => {
      expect(errorsOf(patch(fullBody(), 'content.contentTitel', 'x'))).toEqual([
        'content.contentTitel: unknown field',
      ]);
      expect(errorsOf(patch(fullBody(), 'person.company.companyBusinessContexts[0].crmId', 'x'))).toEqual([
        'person.company.companyBusinessContexts[0].crmId: unknown field',
      ]);
      expect(errorsOf({ ...minimalBody(), extra: 1 })).toEqual(['extra: unknown field']);
    });
  });

  describe('timestamp', () => {
    it.each([
      '2025-01-31T12:00:00Z',
      '2025-01-31T12:00:00.123Z',
      '2025-01-31T12:00:00.123456+05:30',
      '2024-02-29T23:59:59-08:00',
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
    ])('rejects a %s custom field valued %j', (dataType, value, message) => {
      const body = patch(fullBody(), 'content.contentCustomFields', [{ name: 'f', value, dataType }]);
      expect(errorsOf(body)).toEqual([`content.contentCustomFields[0].value: ${message}`]);
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

    it('rejects rangeFrom above rangeTo', () => {
      expect(errorsOf(numeric({ rangeFrom: 10, rangeTo: 1 }))).toEqual([
        'content.numericContentDetails.rangeFrom: must not exceed rangeTo (1)',
      ]);
    });

    it('rejects a value outside the range', () => {
      expect(errorsOf(numeric({ value: 11, rangeFrom: 0, rangeTo: 10, numericType: 'NPS' }))).toEqual([
        'content.numericContentDetails.value: must be within rangeFrom..rangeTo (0..10)',
      ]);
      expect(errorsOf(numeric({ value: -1, rangeFrom: 0, rangeTo: 10 }))).toEqual([
        'content.numericContentDetails.value: must be within rangeFrom..rangeTo (0..10)',
      ]);
    });
  });

  describe('stepContentDetails rules', () => {
    const step = (details: Record<string, unknown>) =>
      patch(minimalBody(), 'content.stepContentDetails', details);

    it('rejects an empty availableSteps', () => {
      expect(errorsOf(step({ value: 'A', availableSteps: [] }))).toEqual([
        'content.stepContentDetails.availableSteps: must have at least 1 item(s)',
      ]);
    });

    it('rejects a current step that is not among availableSteps', () => {
      expect(errorsOf(step({ value: 'C', availableSteps: ['A', 'B'] }))).toEqual([
        'content.stepContentDetails.value: must be one of availableSteps',
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

  describe('length limits', () => {
    const text = (length: number) => 'a'.repeat(length);
    const items = (count: number, item: (index: number) => unknown) =>
      Array.from({ length: count }, (_, index) => item(index));

    it.each([
      'eventId',
      'eventType',
      'sessionId',
      'content.contentTitle',
      'content.contentLabel[1]',
      'content.stepContentDetails.availableSteps[0]',
      'content.searchObjectDetails.name',
      'content.contentCustomFields[0].name',
      'person.name',
      'person.email',
      'person.location.city',
      'person.company.companyBusinessContexts[0].objectId',
    ])('caps %s at MAX_TEXT_LENGTH characters', (path) => {
      const fitting = patch(fullBody(), path, text(MAX_TEXT_LENGTH));
      // A capped step must still be one of availableSteps.
      const body = path.includes('availableSteps')
        ? patch(fitting, 'content.stepContentDetails.value', text(MAX_TEXT_LENGTH))
        : fitting;
      expectValid(body);
      const over = patch(body, path, text(MAX_TEXT_LENGTH + 1));
      expect(errorsOf(over)).toContain(`${path}: must be at most ${MAX_TEXT_LENGTH} characters`);
    });

    it.each([
      'content.contentUrl',
      'content.contentAdditionalInfoUrl',
      'content.searchObjectDetails.url',
      'person.personCustomFields[0].value',
      'customFields[0].value',
    ])('allows %s up to MAX_LONG_TEXT_LENGTH characters', (path) => {
      const url = `https://example.com/${text(MAX_LONG_TEXT_LENGTH - 20)}`;
      expectValid(patch(fullBody(), path, url));
      expect(errorsOf(patch(fullBody(), path, `${url}a`))).toContain(
        `${path}: must be at most ${MAX_LONG_TEXT_LENGTH} characters`,
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
    ] as const)('caps %s at MAX_LIST_ITEMS items', (path, item) => {
      expectValid(patch(fullBody(), path, items(MAX_LIST_ITEMS, item)));
      expect(errorsOf(patch(fullBody(), path, items(MAX_LIST_ITEMS + 1, item)))).toEqual([
        `${path}: must have at most ${MAX_LIST_ITEMS} items`,
      ]);
    });

    it('caps availableSteps at MAX_LIST_ITEMS items', () => {
      const steps = items(MAX_LIST_ITEMS + 1, (index) => `Module ${index}`);
      const body = patch(fullBody(), 'content.stepContentDetails', {
        value: 'Module 1',
        availableSteps: steps,
      });
      expect(errorsOf(body)).toEqual([
        `content.stepContentDetails.availableSteps: must have at most ${MAX_LIST_ITEMS} items`,
      ]);
    });

    // Regression guard: the error message of an overlong value must not echo it, or one event
    // could put megabytes (and PII) into a DLQ header and a log line.
    it('never repeats the overlong value in the error', () => {
      const errors = errorsOf(patch(fullBody(), 'person.email', `${text(5_000)}@acme.com`));
      expect(errors.join('\n').length).toBeLessThan(200);
    });
  });

  it('reports every problem in one pass, in a stable order', () => {
    const body = patch(
      patch(patch(fullBody(), 'eventId', ''), 'content.numericContentDetails.rangeTo', 1.5),
      'trackingId',
      'trk',
    );
    expect(errorsOf(body)).toEqual([
      'eventId: must not be empty',
      'content.numericContentDetails.rangeTo: must be a 32-bit integer (-2147483648..2147483647), got 1.5',
      'trackingId: must be absent when person is sent (send either person or trackingId)',
    ]);
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
