import { z } from 'zod';
import {
  anonymousPersonProblems,
  BLANK_RULE,
  CUSTOM_VALUE_RULE,
  customValueProblem,
  INT32_MAX,
  INT32_MIN,
  isBlank,
  isInt32,
  isIsoDateTime,
  numericProblem,
  personAndTrackingIdProblem,
  stepProblem,
  tooLongMessage,
  tooManyMessage,
  unboundedBodyLimits,
  type GongBodyLimits,
  type RuleProblem,
} from './body-rules.ts';
import type { InferredRuleName } from './rule-catalogue.ts';

export { INT32_MAX, INT32_MIN, type GongBodyLimits } from './body-rules.ts';

/**
 * The body of Gong's `POST /v2/digital-interaction`, modelled from the published contract
 * (shared/gong/digital-interaction-api.md). A new Gong field touches this file, the fast path
 * (body-fast-path.ts; a test fails until its field lists match these shapes) and the transform.
 *
 * Every check is one of three kinds (rule-catalogue.ts): documented by the contract, inferred by
 * us, or a bridge limit. An inferred check reports a custom issue whose `params.rule` names it
 * (or, for unknown keys, zod's own unrecognized_keys), so validate.ts can tell a guess about
 * Gong from a fact; anything else is documented or a limit.
 *
 * Judgement calls, where the contract is silent or only says "should":
 * - Objects are strict: an unknown key is reported (inferred: Gong may ignore unknown keys, but
 *   for us an unknown key is usually a misspelt optional field whose data would be lost).
 * - timestamp must carry seconds and an explicit offset (`Z` or `+hh:mm`): Gong's "date-time"
 *   format is RFC 3339's. The calendar is checked.
 * - Optional fields accept `null`, because the contract itself says `person`/`trackingId` "must be
 *   null" and JSON clients commonly send null for absent values. `null` counts as absent in every
 *   rule below; the transform never emits it.
 * - Required strings should contain a non-blank character (inferred): Gong uses eventId for
 *   deduplication and contentTitle for display. Optional strings may be empty, and count as
 *   absent for the anonymous-person rule ("when name, email, ... are empty").
 * - Neither `person` nor `trackingId` is required: the contract marks neither, and rejecting here
 *   would dead-letter events Gong accepts. Sending both is rejected ("must be null if ...").
 * - `company` "should" name a domain or a CRM id: a recommendation, not checked.
 * - numericContentDetails: rangeFrom is "the lowest value that can be given" and rangeTo "the
 *   highest", so rangeFrom > rangeTo, or a value outside the range, looks wrong (inferred).
 * - stepContentDetails: availableSteps lists "all available steps" and value is "the current step",
 *   so the list should be non-empty and contain value (inferred).
 * - Custom field values should parse as their declared dataType (NUMBER, DATE as ISO 8601, URL,
 *   BOOLEAN, DURATION as seconds); STRING, the default, takes anything (inferred).
 * - contentUrl and the other URL-ish strings are typed plain `string` by Gong and are not checked.
 * - Strings and lists are bounded by GongBodyLimits, the bridge's own settings. An event over
 *   them is dead-lettered with the path, never truncated, since a cut value would be silently
 *   wrong.
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

type IssueContext = {
  addIssue(issue: {
    code: 'custom';
    path?: (string | number)[];
    message: string;
    params?: { rule: InferredRuleName };
  }): void;
};

function addProblem(ctx: IssueContext, problem: RuleProblem | undefined) {
  if (problem === undefined) return;
  ctx.addIssue({
    code: 'custom',
    path: [...problem.path],
    message: problem.message,
    ...(problem.rule === undefined ? {} : { params: { rule: problem.rule } }),
  });
}

/** Refinements run even when sibling fields failed, so every rule is reported in one pass. */
const whenObject = {
  when: (payload: { value: unknown }) =>
    typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
};

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

/**
 * The zod model of the body for the given limits. Built once per validator (validate.ts), since
 * the limits are settings.
 */
export function buildGongBodySchema(limits: GongBodyLimits) {
  const { maxStringLength, maxListItems } = limits;
  const text = () => z.string().max(maxStringLength, tooLongMessage(maxStringLength));
  const requiredString = text().superRefine((value, ctx) => {
    if (isBlank(value)) {
      ctx.addIssue({
        code: 'custom',
        message: value === '' ? 'must not be empty' : 'must not be blank',
        params: { rule: BLANK_RULE },
      });
    }
  });
  const optionalString = text().nullish();
  const list = <T extends z.ZodType>(item: T) =>
    z.array(item).max(maxListItems, tooManyMessage(maxListItems));

  const customFieldSchema = z
    .strictObject({
      name: requiredString,
      value: requiredString,
      dataType: z.enum(customFieldDataTypeValues).nullish(),
    })
    .superRefine((field, ctx) => {
      if (typeof field.value !== 'string') return;
      const problem = customValueProblem(field.dataType, field.value);
      if (problem !== undefined)
        addProblem(ctx, { path: ['value'], message: problem, rule: CUSTOM_VALUE_RULE });
    }, whenObject);

  const customFields = list(customFieldSchema).nullish();

  const numericContentDetailsSchema = z
    .strictObject({
      value: int32.nullish(),
      rangeFrom: int32,
      rangeTo: int32,
      numericType: z.enum(numericTypeValues).nullish(),
    })
    .superRefine((details, ctx) => {
      addProblem(ctx, numericProblem(details.value, details.rangeFrom, details.rangeTo));
    }, whenObject);

  const stepContentDetailsSchema = z
    .strictObject({
      value: requiredString,
      availableSteps: list(requiredString),
    })
    .superRefine((details, ctx) => {
      addProblem(ctx, stepProblem(details.value, details.availableSteps));
    }, whenObject);

  const searchObjectDetailsSchema = z.strictObject({
    name: requiredString,
    objectType: z.enum(searchObjectTypeValues),
    domain: requiredString,
    objectId: optionalString,
    url: optionalString,
  });

  const contentSchema = z.strictObject({
    contentId: optionalString,
    contentTitle: requiredString,
    contentLabel: list(text()).nullish(),
    contentUrl: optionalString,
    contentAdditionalInfoUrl: optionalString,
    numericContentDetails: numericContentDetailsSchema.nullish(),
    stepContentDetails: stepContentDetailsSchema.nullish(),
    searchObjectDetails: searchObjectDetailsSchema.nullish(),
    contentCustomFields: customFields,
  });

  const personBusinessContextSchema = z.strictObject({
    objectType: z.enum(personObjectTypeValues),
    objectId: requiredString,
    systemName: optionalString,
  });

  const companyBusinessContextSchema = z.strictObject({
    objectType: z.enum(companyObjectTypeValues),
    objectId: requiredString,
    systemName: optionalString,
  });

  const locationSchema = z.strictObject({
    country: optionalString,
    state: optionalString,
    region: optionalString,
    city: optionalString,
  });

  const companySchema = z.strictObject({
    companyId: optionalString,
    name: optionalString,
    domain: optionalString,
    companyBusinessContexts: list(companyBusinessContextSchema).nullish(),
  });

  const personSchema = z
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

  const body = z
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
    .superRefine((candidate, ctx) => {
      addProblem(ctx, personAndTrackingIdProblem(candidate.person, candidate.trackingId));
    }, whenObject);

  return {
    body,
    content: contentSchema,
    numericContentDetails: numericContentDetailsSchema,
    stepContentDetails: stepContentDetailsSchema,
    searchObjectDetails: searchObjectDetailsSchema,
    customField: customFieldSchema,
    person: personSchema,
    personBusinessContext: personBusinessContextSchema,
    companyBusinessContext: companyBusinessContextSchema,
    location: locationSchema,
    company: companySchema,
  };
}

export type GongBodySchemas = ReturnType<typeof buildGongBodySchema>;

/**
 * The shape of the model, for code that walks it (src/mapping/gong-fields.ts); limits do not
 * change the shape. It has no limits of the bridge's, so validate with validate.ts, not with this.
 */
export const gongBodySchema = buildGongBodySchema(unboundedBodyLimits).body;

export type GongBody = z.output<GongBodySchemas['body']>;
export type GongContent = z.output<GongBodySchemas['content']>;
export type GongPerson = z.output<GongBodySchemas['person']>;
export type GongCustomField = z.output<GongBodySchemas['customField']>;
