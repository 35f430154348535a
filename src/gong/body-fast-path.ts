import {
  anonymousPersonProblems,
  customValueProblem,
  isBlank,
  isInt32,
  isIsoDateTime,
  numericProblem,
  personAndTrackingIdProblem,
  stepProblem,
  type GongBodyLimits,
  type RuleProblem,
} from './body-rules.ts';
import {
  companyObjectTypeValues,
  customFieldDataTypeValues,
  deviceValues,
  numericTypeValues,
  personObjectTypeValues,
  searchObjectTypeValues,
} from './body-schema.ts';

/**
 * A quick verdict on a Gong body that agrees with the zod model (body-schema.ts) built for the
 * same limits, at a fraction of its cost: zod builds a copy and an issue context for every
 * object, which alone kept transform+validate under 100k events/s. Clean bodies, the
 * overwhelming case, stop here; anything else goes through zod for the precise `<path>: <message>`
 * errors and warnings. The rules themselves live in body-rules.ts and are shared, and a property
 * test holds the two verdicts equal:
 *   - clean:   zod reports no issue at all;
 *   - flagged: zod reports only issues of inferred rules (rule-catalogue.ts);
 *   - invalid: zod reports at least one issue of a documented rule or a limit.
 */
export const FastVerdict = { clean: 0, flagged: 1, invalid: 2 } as const;
export type FastVerdict = (typeof FastVerdict)[keyof typeof FastVerdict];

export function createFastPath(limits: GongBodyLimits): (input: unknown) => FastVerdict {
  const { maxStringLength, maxListItems } = limits;
  // Set by an inferred check that failed; the walk goes on, since a documented failure further
  // on still makes the body invalid. Reset per call; the walk is synchronous.
  let flagged = false;

  const flag = (): true => {
    flagged = true;
    return true;
  };
  const inferred = (problem: RuleProblem | undefined): boolean => {
    if (problem === undefined) return true;
    if (problem.rule === undefined) return false;
    return flag();
  };
  const fields = (value: Obj, allowed: ReadonlySet<string>): void => {
    for (const key in value) if (!allowed.has(key)) flag();
  };
  const isText = (value: unknown): value is string =>
    typeof value === 'string' && value.length <= maxStringLength;
  const isRequiredString = (value: unknown): boolean => {
    if (!isText(value)) return false;
    if (isBlank(value)) flag();
    return true;
  };
  const isOptionalString = (value: unknown): boolean =>
    value === undefined || value === null || isText(value);
  const isList = (value: unknown): value is unknown[] => Array.isArray(value) && value.length <= maxListItems;

  function isBody(input: unknown): boolean {
    if (!isObject(input)) return false;
    fields(input, bodyKeys);
    const { timestamp } = input;
    return (
      isRequiredString(input.eventId) &&
      typeof timestamp === 'string' &&
      isIsoDateTime(timestamp) &&
      isRequiredString(input.eventType) &&
      isOptionalString(input.sourceSystemName) &&
      isOptionalString(input.sessionId) &&
      isOptionalMember(input.device, devices) &&
      isContent(input.content) &&
      (isNullish(input.person) || isPerson(input.person)) &&
      isCustomFields(input.customFields) &&
      isOptionalString(input.trackingId) &&
      personAndTrackingIdProblem(input.person, input.trackingId) === undefined
    );
  }

  function isContent(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, contentKeys);
    const labels = value.contentLabel;
    if (!isNullish(labels)) {
      if (!isList(labels)) return false;
      for (let index = 0; index < labels.length; index++) if (!isText(labels[index])) return false;
    }
    return (
      isOptionalString(value.contentId) &&
      isRequiredString(value.contentTitle) &&
      isOptionalString(value.contentUrl) &&
      isOptionalString(value.contentAdditionalInfoUrl) &&
      (isNullish(value.numericContentDetails) || isNumericDetails(value.numericContentDetails)) &&
      (isNullish(value.stepContentDetails) || isStepDetails(value.stepContentDetails)) &&
      (isNullish(value.searchObjectDetails) || isSearchDetails(value.searchObjectDetails)) &&
      isCustomFields(value.contentCustomFields)
    );
  }

  function isNumericDetails(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, numericKeys);
    return (
      (isNullish(value.value) || isInt32Number(value.value)) &&
      isInt32Number(value.rangeFrom) &&
      isInt32Number(value.rangeTo) &&
      isOptionalMember(value.numericType, numericTypes) &&
      inferred(numericProblem(value.value, value.rangeFrom, value.rangeTo))
    );
  }

  function isStepDetails(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, stepKeys);
    const steps = value.availableSteps;
    if (!isList(steps)) return false;
    for (let index = 0; index < steps.length; index++) if (!isRequiredString(steps[index])) return false;
    return isRequiredString(value.value) && inferred(stepProblem(value.value, steps));
  }

  function isSearchDetails(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, searchKeys);
    return (
      isRequiredString(value.name) &&
      isMember(value.objectType, searchObjectTypes) &&
      isRequiredString(value.domain) &&
      isOptionalString(value.objectId) &&
      isOptionalString(value.url)
    );
  }

  function isPerson(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, personKeys);
    return (
      isOptionalString(value.name) &&
      isOptionalString(value.email) &&
      isOptionalString(value.phoneNumber) &&
      isOptionalString(value.personId) &&
      (isNullish(value.personBusinessContext) ||
        isBusinessContext(value.personBusinessContext, personObjectTypes)) &&
      (isNullish(value.location) || isLocation(value.location)) &&
      (isNullish(value.company) || isCompany(value.company)) &&
      isCustomFields(value.personCustomFields) &&
      anonymousPersonProblems(value).length === 0
    );
  }

  function isBusinessContext(value: unknown, objectTypes: ReadonlySet<unknown>): boolean {
    if (!isObject(value)) return false;
    fields(value, businessContextKeys);
    return (
      isMember(value.objectType, objectTypes) &&
      isRequiredString(value.objectId) &&
      isOptionalString(value.systemName)
    );
  }

  function isLocation(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, locationKeys);
    return (
      isOptionalString(value.country) &&
      isOptionalString(value.state) &&
      isOptionalString(value.region) &&
      isOptionalString(value.city)
    );
  }

  function isCompany(value: unknown): boolean {
    if (!isObject(value)) return false;
    fields(value, companyKeys);
    const contexts = value.companyBusinessContexts;
    if (!isNullish(contexts)) {
      if (!isList(contexts)) return false;
      for (let index = 0; index < contexts.length; index++) {
        if (!isBusinessContext(contexts[index], companyObjectTypes)) return false;
      }
    }
    return (
      isOptionalString(value.companyId) && isOptionalString(value.name) && isOptionalString(value.domain)
    );
  }

  function isCustomFields(value: unknown): boolean {
    if (isNullish(value)) return true;
    if (!isList(value)) return false;
    for (let index = 0; index < value.length; index++) {
      const field: unknown = value[index];
      if (!isObject(field)) return false;
      fields(field, customFieldKeys);
      const fieldValue = field.value;
      if (!isRequiredString(field.name) || !isRequiredString(fieldValue)) return false;
      if (!isOptionalMember(field.dataType, dataTypes)) return false;
      if (customValueProblem(field.dataType, fieldValue as string) !== undefined) flag();
    }
    return true;
  }

  return (input) => {
    flagged = false;
    if (!isBody(input)) return FastVerdict.invalid;
    return flagged ? FastVerdict.flagged : FastVerdict.clean;
  };
}

type Obj = Record<string, unknown>;

const bodyKeys = keys(
  'eventId',
  'timestamp',
  'eventType',
  'sourceSystemName',
  'sessionId',
  'device',
  'content',
  'person',
  'customFields',
  'trackingId',
);
const contentKeys = keys(
  'contentId',
  'contentTitle',
  'contentLabel',
  'contentUrl',
  'contentAdditionalInfoUrl',
  'numericContentDetails',
  'stepContentDetails',
  'searchObjectDetails',
  'contentCustomFields',
);
const numericKeys = keys('value', 'rangeFrom', 'rangeTo', 'numericType');
const stepKeys = keys('value', 'availableSteps');
const searchKeys = keys('name', 'objectType', 'domain', 'objectId', 'url');
const customFieldKeys = keys('name', 'value', 'dataType');
const personKeys = keys(
  'name',
  'email',
  'phoneNumber',
  'personId',
  'personBusinessContext',
  'location',
  'company',
  'personCustomFields',
);
const businessContextKeys = keys('objectType', 'objectId', 'systemName');
const locationKeys = keys('country', 'state', 'region', 'city');
const companyKeys = keys('companyId', 'name', 'domain', 'companyBusinessContexts');

/** The field names the fast path knows per object; a test holds them equal to the zod shapes. */
export const fastPathKeys = {
  body: bodyKeys,
  content: contentKeys,
  numericContentDetails: numericKeys,
  stepContentDetails: stepKeys,
  searchObjectDetails: searchKeys,
  customField: customFieldKeys,
  person: personKeys,
  businessContext: businessContextKeys,
  location: locationKeys,
  company: companyKeys,
} as const;

const devices = members(deviceValues);
const numericTypes = members(numericTypeValues);
const searchObjectTypes = members(searchObjectTypeValues);
const personObjectTypes = members(personObjectTypeValues);
const companyObjectTypes = members(companyObjectTypeValues);
const dataTypes = members(customFieldDataTypeValues);

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNullish(value: unknown): boolean {
  return value === undefined || value === null;
}

function isInt32Number(value: unknown): boolean {
  return typeof value === 'number' && isInt32(value);
}

function isMember(value: unknown, set: ReadonlySet<unknown>): boolean {
  return set.has(value);
}

function isOptionalMember(value: unknown, set: ReadonlySet<unknown>): boolean {
  return value === undefined || value === null || set.has(value);
}

function keys(...names: string[]): ReadonlySet<string> {
  return new Set(names);
}

function members(values: readonly string[]): ReadonlySet<unknown> {
  return new Set<unknown>(values);
}
