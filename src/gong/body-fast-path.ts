import {
  anonymousPersonProblems,
  customValueProblem,
  isBlank,
  isInt32,
  isIsoDateTime,
  MAX_LIST_ITEMS,
  MAX_LONG_TEXT_LENGTH,
  MAX_TEXT_LENGTH,
  numericProblem,
  personAndTrackingIdProblem,
  stepProblem,
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
 * A yes/no check of the Gong body that accepts exactly what `gongBodySchema` accepts, at a
 * fraction of zod's cost: zod builds a copy and an issue context for every object, which alone
 * kept transform+validate under 100k events/s. Valid bodies, the overwhelming case, stop here;
 * anything else goes through zod for the precise `<path>: <message>` errors. The rules themselves
 * live in body-rules.ts and are shared, and a property test holds the two verdicts equal.
 */
export function isValidGongBodyFast(input: unknown): boolean {
  if (!isObject(input) || !hasOnlyKeys(input, bodyKeys)) return false;
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

function isContent(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, contentKeys)) return false;
  const labels = value.contentLabel;
  if (!isNullish(labels)) {
    if (!isList(labels)) return false;
    for (let index = 0; index < labels.length; index++) {
      const label: unknown = labels[index];
      if (typeof label !== 'string' || label.length > MAX_TEXT_LENGTH) return false;
    }
  }
  return (
    isOptionalString(value.contentId) &&
    isRequiredString(value.contentTitle) &&
    isOptionalString(value.contentUrl, MAX_LONG_TEXT_LENGTH) &&
    isOptionalString(value.contentAdditionalInfoUrl, MAX_LONG_TEXT_LENGTH) &&
    (isNullish(value.numericContentDetails) || isNumericDetails(value.numericContentDetails)) &&
    (isNullish(value.stepContentDetails) || isStepDetails(value.stepContentDetails)) &&
    (isNullish(value.searchObjectDetails) || isSearchDetails(value.searchObjectDetails)) &&
    isCustomFields(value.contentCustomFields)
  );
}

function isNumericDetails(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, numericKeys)) return false;
  return (
    (isNullish(value.value) || isInt32Number(value.value)) &&
    isInt32Number(value.rangeFrom) &&
    isInt32Number(value.rangeTo) &&
    isOptionalMember(value.numericType, numericTypes) &&
    numericProblem(value.value, value.rangeFrom, value.rangeTo) === undefined
  );
}

function isStepDetails(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, stepKeys)) return false;
  const steps = value.availableSteps;
  if (!isList(steps) || steps.length === 0) return false;
  for (let index = 0; index < steps.length; index++) if (!isRequiredString(steps[index])) return false;
  return isRequiredString(value.value) && stepProblem(value.value, steps) === undefined;
}

function isSearchDetails(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, searchKeys)) return false;
  return (
    isRequiredString(value.name) &&
    isMember(value.objectType, searchObjectTypes) &&
    isRequiredString(value.domain) &&
    isOptionalString(value.objectId) &&
    isOptionalString(value.url, MAX_LONG_TEXT_LENGTH)
  );
}

function isPerson(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, personKeys)) return false;
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
  if (!isObject(value) || !hasOnlyKeys(value, businessContextKeys)) return false;
  return (
    isMember(value.objectType, objectTypes) &&
    isRequiredString(value.objectId) &&
    isOptionalString(value.systemName)
  );
}

function isLocation(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, locationKeys)) return false;
  return (
    isOptionalString(value.country) &&
    isOptionalString(value.state) &&
    isOptionalString(value.region) &&
    isOptionalString(value.city)
  );
}

function isCompany(value: unknown): boolean {
  if (!isObject(value) || !hasOnlyKeys(value, companyKeys)) return false;
  const contexts = value.companyBusinessContexts;
  if (!isNullish(contexts)) {
    if (!isList(contexts)) return false;
    for (let index = 0; index < contexts.length; index++) {
      if (!isBusinessContext(contexts[index], companyObjectTypes)) return false;
    }
  }
  return isOptionalString(value.companyId) && isOptionalString(value.name) && isOptionalString(value.domain);
}

function isCustomFields(value: unknown): boolean {
  if (isNullish(value)) return true;
  if (!isList(value)) return false;
  for (let index = 0; index < value.length; index++) {
    const field: unknown = value[index];
    if (!isObject(field) || !hasOnlyKeys(field, customFieldKeys)) return false;
    const fieldValue = field.value;
    if (!isRequiredString(field.name) || !isRequiredString(fieldValue, MAX_LONG_TEXT_LENGTH)) return false;
    if (!isOptionalMember(field.dataType, dataTypes)) return false;
    if (customValueProblem(field.dataType, fieldValue as string) !== undefined) return false;
  }
  return true;
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOnlyKeys(value: Obj, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

function isNullish(value: unknown): boolean {
  return value === undefined || value === null;
}

function isRequiredString(value: unknown, max = MAX_TEXT_LENGTH): boolean {
  return typeof value === 'string' && value.length <= max && !isBlank(value);
}

function isOptionalString(value: unknown, max = MAX_TEXT_LENGTH): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.length <= max);
}

function isList(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length <= MAX_LIST_ITEMS;
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
