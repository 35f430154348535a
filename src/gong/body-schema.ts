import { z } from 'zod';

/**
 * The body of Gong's `POST /v2/digital-interaction`, modelled from the published contract
 * (shared/gong/digital-interaction-api.md). A new Gong field should only ever touch this file
 * and the transform.
 *
 * Judgement calls, where the contract is silent or only says "should":
 * - Objects are strict: an unknown key is reported. Gong may ignore unknown keys, but for us an
 *   unknown key is always a bug (usually a misspelt optional field whose data would be lost).
 * - Optional fields accept `null`, because the contract itself says `person`/`trackingId` "must be
 *   null" and JSON clients commonly send null for absent values. `null` counts as absent in every
 *   rule below; the transform never emits it.
 * - Required strings must contain a non-blank character: Gong uses eventId for deduplication and
 *   contentTitle for display, and a blank value can do neither. Optional strings may be empty, and
 *   count as absent for the anonymous-person rule ("when name, email, ... are empty").
 * - Neither `person` nor `trackingId` is required: the contract marks neither, and rejecting here
 *   would dead-letter events Gong accepts. Sending both is rejected ("must be null if ...").
 * - `company` "should" name a domain or a CRM id: a recommendation, not enforced.
 * - numericContentDetails: rangeFrom is "the lowest value that can be given" and rangeTo "the
 *   highest", so rangeFrom > rangeTo, or a value outside the range, can never be right.
 * - stepContentDetails: availableSteps lists "all available steps" and value is "the current step",
 *   so the list must be non-empty and contain value.
 * - Custom field values must parse as their declared dataType (NUMBER, DATE as ISO 8601, URL,
 *   BOOLEAN, DURATION as seconds); STRING, the default, takes anything.
 * - contentUrl and the other URL-ish strings are typed plain `string` by Gong and are not checked.
 */

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

export const deviceValues = ['MOBILE', 'PC'] as const;
export const numericTypeValues = ['PERCENTAGE', 'NPS', 'RATING', 'OTHER'] as const;
export const searchObjectTypeValues = ['VENDOR', 'PRODUCT', 'CATEGORY'] as const;
export const personObjectTypeValues = ['CONTACT', 'LEAD'] as const;
export const companyObjectTypeValues = ['ACCOUNT', 'OPPORTUNITY'] as const;
export const customFieldDataTypeValues = ['STRING', 'NUMBER', 'DATE', 'URL', 'BOOLEAN', 'DURATION'] as const;

export type Device = (typeof deviceValues)[number];
export type NumericType = (typeof numericTypeValues)[number];
export type SearchObjectType = (typeof searchObjectTypeValues)[number];
export type PersonObjectType = (typeof personObjectTypeValues)[number];
export type CompanyObjectType = (typeof companyObjectTypeValues)[number];
export type CustomFieldDataType = (typeof customFieldDataTypeValues)[number];

const BLANK = /^\s*$/;
const requiredString = z.string().superRefine((value, ctx) => {
  if (BLANK.test(value))
    ctx.addIssue({ code: 'custom', message: value === '' ? 'must not be empty' : 'must not be blank' });
});
const optionalString = z.string().nullish();
// Not z.int32(): its non-integer issue aborts the parse, which would hide the cross-field rules
// (range order, anonymous person) that we want reported in the same pass.
const int32 = z.number().superRefine((value, ctx) => {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a 32-bit integer (${INT32_MIN}..${INT32_MAX}), got ${value}`,
    });
  }
});

/** Refinements run even when sibling fields failed, so every rule is reported in one pass. */
const whenObject = {
  when: (payload: { value: unknown }) =>
    typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
};

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && BLANK.test(value));
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DURATION = /^(\d+(\.\d*)?|\.\d+)$/;
const BOOLEAN = /^(true|false)$/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;

function customValueProblem(dataType: unknown, value: string): string | undefined {
  switch (dataType) {
    case 'NUMBER':
      return NUMBER.test(value) ? undefined : 'must be a number for dataType NUMBER';
    case 'DURATION':
      return DURATION.test(value)
        ? undefined
        : 'must be a non-negative number of seconds for dataType DURATION';
    case 'BOOLEAN':
      return BOOLEAN.test(value) ? undefined : 'must be true or false for dataType BOOLEAN';
    case 'DATE':
      return ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : 'must be an ISO 8601 date for dataType DATE';
    case 'URL':
      return URL.canParse(value) ? undefined : 'must be an absolute URL for dataType URL';
    default:
      return undefined;
  }
}

export const customFieldSchema = z
  .strictObject({
    name: requiredString,
    value: requiredString,
    dataType: z.enum(customFieldDataTypeValues).nullish(),
  })
  .superRefine((field, ctx) => {
    if (typeof field.value !== 'string') return;
    const problem = customValueProblem(field.dataType, field.value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  }, whenObject);

const customFields = z.array(customFieldSchema).nullish();

export const numericContentDetailsSchema = z
  .strictObject({
    value: int32.nullish(),
    rangeFrom: int32,
    rangeTo: int32,
    numericType: z.enum(numericTypeValues).nullish(),
  })
  .superRefine((details, ctx) => {
    const { value, rangeFrom, rangeTo } = details;
    if (!Number.isInteger(rangeFrom) || !Number.isInteger(rangeTo)) return;
    if (rangeFrom > rangeTo) {
      ctx.addIssue({ code: 'custom', path: ['rangeFrom'], message: `must not exceed rangeTo (${rangeTo})` });
    } else if (Number.isInteger(value) && (value! < rangeFrom || value! > rangeTo)) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `must be within rangeFrom..rangeTo (${rangeFrom}..${rangeTo})`,
      });
    }
  }, whenObject);

export const stepContentDetailsSchema = z
  .strictObject({
    value: requiredString,
    availableSteps: z.array(requiredString).min(1),
  })
  .superRefine((details, ctx) => {
    const { value, availableSteps } = details;
    if (typeof value !== 'string' || BLANK.test(value) || !Array.isArray(availableSteps)) return;
    if (availableSteps.length > 0 && !availableSteps.includes(value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'must be one of availableSteps' });
    }
  }, whenObject);

export const searchObjectDetailsSchema = z.strictObject({
  name: requiredString,
  objectType: z.enum(searchObjectTypeValues),
  domain: requiredString,
  objectId: optionalString,
  url: optionalString,
});

export const contentSchema = z.strictObject({
  contentId: optionalString,
  contentTitle: requiredString,
  contentLabel: z.array(z.string()).nullish(),
  contentUrl: optionalString,
  contentAdditionalInfoUrl: optionalString,
  numericContentDetails: numericContentDetailsSchema.nullish(),
  stepContentDetails: stepContentDetailsSchema.nullish(),
  searchObjectDetails: searchObjectDetailsSchema.nullish(),
  contentCustomFields: customFields,
});

export const personBusinessContextSchema = z.strictObject({
  objectType: z.enum(personObjectTypeValues),
  objectId: requiredString,
  systemName: optionalString,
});

export const companyBusinessContextSchema = z.strictObject({
  objectType: z.enum(companyObjectTypeValues),
  objectId: requiredString,
  systemName: optionalString,
});

export const locationSchema = z.strictObject({
  country: optionalString,
  state: optionalString,
  region: optionalString,
  city: optionalString,
});

export const companySchema = z.strictObject({
  companyId: optionalString,
  name: optionalString,
  domain: optionalString,
  companyBusinessContexts: z.array(companyBusinessContextSchema).nullish(),
});

const ANONYMOUS =
  'required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)';

export const personSchema = z
  .strictObject({
    name: optionalString,
    email: optionalString,
    phoneNumber: optionalString,
    personId: optionalString,
    personBusinessContext: personBusinessContextSchema.nullish(),
    location: locationSchema.nullish(),
    company: companySchema.nullish(),
    personCustomFields: customFields,
  })
  .superRefine((person, ctx) => {
    const anonymous =
      isAbsent(person.name) &&
      isAbsent(person.email) &&
      isAbsent(person.phoneNumber) &&
      (person.personBusinessContext === undefined || person.personBusinessContext === null);
    if (!anonymous) return;
    if (isAbsent(person.personId)) ctx.addIssue({ code: 'custom', path: ['personId'], message: ANONYMOUS });
    const company: unknown = person.company;
    const domain =
      typeof company === 'object' && company !== null ? (company as { domain?: unknown }).domain : undefined;
    if (isAbsent(domain)) ctx.addIssue({ code: 'custom', path: ['company', 'domain'], message: ANONYMOUS });
  }, whenObject);

export const gongBodySchema = z
  .strictObject({
    eventId: requiredString,
    timestamp: z.iso.datetime({ offset: true }),
    eventType: requiredString,
    sourceSystemName: optionalString,
    sessionId: optionalString,
    device: z.enum(deviceValues).nullish(),
    content: contentSchema,
    person: personSchema.nullish(),
    customFields,
    trackingId: optionalString,
  })
  .superRefine((body, ctx) => {
    if (
      body.person !== undefined &&
      body.person !== null &&
      body.trackingId !== undefined &&
      body.trackingId !== null
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['trackingId'],
        message: 'must be absent when person is sent (send either person or trackingId)',
      });
    }
  }, whenObject);

export type GongBody = z.output<typeof gongBodySchema>;
export type GongContent = z.output<typeof contentSchema>;
export type GongPerson = z.output<typeof personSchema>;
export type GongCustomField = z.output<typeof customFieldSchema>;
