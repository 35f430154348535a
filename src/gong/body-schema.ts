import { z } from 'zod';
import {
  anonymousPersonProblems,
  customValueProblem,
  INT32_MAX,
  INT32_MIN,
  isBlank,
  isInt32,
  isIsoDateTime,
  MAX_LIST_ITEMS,
  MAX_LONG_TEXT_LENGTH,
  MAX_TEXT_LENGTH,
  numericProblem,
  personAndTrackingIdProblem,
  stepProblem,
  tooLongMessage,
  tooManyMessage,
  type RuleProblem,
} from './body-rules.ts';

export { INT32_MAX, INT32_MIN, MAX_LIST_ITEMS, MAX_LONG_TEXT_LENGTH, MAX_TEXT_LENGTH } from './body-rules.ts';

/**
 * The body of Gong's `POST /v2/digital-interaction`, modelled from the published contract
 * (shared/gong/digital-interaction-api.md). A new Gong field touches this file, the fast path
 * (body-fast-path.ts; a test fails until its field lists match these shapes) and the transform.
 *
 * Judgement calls, where the contract is silent or only says "should":
 * - Objects are strict: an unknown key is reported. Gong may ignore unknown keys, but for us an
 *   unknown key is always a bug (usually a misspelt optional field whose data would be lost).
 * - timestamp must carry seconds and an explicit offset (`Z` or `+hh:mm`): without an offset the
 *   instant is ambiguous, and Gong's "date-time" format is RFC 3339's. The calendar is checked.
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
 * - Length caps the contract does not state (body-rules.ts): strings at most 1,000 characters,
 *   URLs and custom field values 4,096, lists at most 100 items. An event over them is
 *   dead-lettered with the path, never truncated, since a cut value would be silently wrong.
 */

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

const requiredText = (max: number) =>
  z
    .string()
    .max(max, tooLongMessage(max))
    .superRefine((value, ctx) => {
      if (isBlank(value))
        ctx.addIssue({ code: 'custom', message: value === '' ? 'must not be empty' : 'must not be blank' });
    });
const requiredString = requiredText(MAX_TEXT_LENGTH);
const optionalString = z.string().max(MAX_TEXT_LENGTH, tooLongMessage(MAX_TEXT_LENGTH)).nullish();
const optionalLongString = z
  .string()
  .max(MAX_LONG_TEXT_LENGTH, tooLongMessage(MAX_LONG_TEXT_LENGTH))
  .nullish();
const list = <T extends z.ZodType>(item: T) =>
  z.array(item).max(MAX_LIST_ITEMS, tooManyMessage(MAX_LIST_ITEMS));
// Not z.int32(): its non-integer issue aborts the parse, which would hide the cross-field rules
// (range order, anonymous person) that we want reported in the same pass.
const int32 = z.number().superRefine((value, ctx) => {
  if (!isInt32(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a 32-bit integer (${INT32_MIN}..${INT32_MAX}), got ${value}`,
    });
  }
});
const dateTime = z.string().superRefine((value, ctx) => {
  if (!isIsoDateTime(value)) {
    const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
    ctx.addIssue({
      code: 'custom',
      message: `must be an ISO 8601 date-time with seconds and a UTC offset (e.g. 2025-01-31T12:00:00.000Z), got ${shown}`,
    });
  }
});

/** Refinements run even when sibling fields failed, so every rule is reported in one pass. */
const whenObject = {
  when: (payload: { value: unknown }) =>
    typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
};

function addProblem(
  ctx: { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void },
  problem: RuleProblem | undefined,
) {
  if (problem !== undefined)
    ctx.addIssue({ code: 'custom', path: [...problem.path], message: problem.message });
}

export const customFieldSchema = z
  .strictObject({
    name: requiredString,
    value: requiredText(MAX_LONG_TEXT_LENGTH),
    dataType: z.enum(customFieldDataTypeValues).nullish(),
  })
  .superRefine((field, ctx) => {
    if (typeof field.value !== 'string') return;
    const problem = customValueProblem(field.dataType, field.value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  }, whenObject);

const customFields = list(customFieldSchema).nullish();

export const numericContentDetailsSchema = z
  .strictObject({
    value: int32.nullish(),
    rangeFrom: int32,
    rangeTo: int32,
    numericType: z.enum(numericTypeValues).nullish(),
  })
  .superRefine((details, ctx) => {
    addProblem(ctx, numericProblem(details.value, details.rangeFrom, details.rangeTo));
  }, whenObject);

export const stepContentDetailsSchema = z
  .strictObject({
    value: requiredString,
    availableSteps: list(requiredString).min(1),
  })
  .superRefine((details, ctx) => {
    addProblem(ctx, stepProblem(details.value, details.availableSteps));
  }, whenObject);

export const searchObjectDetailsSchema = z.strictObject({
  name: requiredString,
  objectType: z.enum(searchObjectTypeValues),
  domain: requiredString,
  objectId: optionalString,
  url: optionalLongString,
});

export const contentSchema = z.strictObject({
  contentId: optionalString,
  contentTitle: requiredString,
  contentLabel: list(z.string().max(MAX_TEXT_LENGTH, tooLongMessage(MAX_TEXT_LENGTH))).nullish(),
  contentUrl: optionalLongString,
  contentAdditionalInfoUrl: optionalLongString,
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
  companyBusinessContexts: list(companyBusinessContextSchema).nullish(),
});

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
    for (const problem of anonymousPersonProblems(person)) addProblem(ctx, problem);
  }, whenObject);

export const gongBodySchema = z
  .strictObject({
    eventId: requiredString,
    timestamp: dateTime,
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
    addProblem(ctx, personAndTrackingIdProblem(body.person, body.trackingId));
  }, whenObject);

export type GongBody = z.output<typeof gongBodySchema>;
export type GongContent = z.output<typeof contentSchema>;
export type GongPerson = z.output<typeof personSchema>;
export type GongCustomField = z.output<typeof customFieldSchema>;
