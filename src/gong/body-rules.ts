import type { InferredRuleName } from './rule-catalogue.ts';

/**
 * The rules of Gong's body that a type alone cannot state, as plain functions. Both the zod model
 * (body-schema.ts, which explains each judgement call) and the fast path (body-fast-path.ts) call
 * these, so the two can never disagree on a rule, only on plumbing, which a property test covers.
 * A problem that names an inferred rule (rule-catalogue.ts) is one the contract does not state.
 */

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/**
 * The bridge's own bounds on a body, from GONG_MAX_STRING_LENGTH and GONG_MAX_LIST_ITEMS. The
 * contract states no limits, so these are not guesses about Gong: they keep one runaway event
 * (a page scraped into a title, a log dump in a list) from costing the bridge memory or a
 * body-size failure without a path. Lengths count UTF-16 code units, as JavaScript's `length`
 * does, so a character outside the BMP counts twice.
 */
export interface GongBodyLimits {
  readonly maxStringLength: number;
  readonly maxListItems: number;
}

/** No bounds at all: what Gong's contract states (the sandbox). */
export const unboundedBodyLimits: GongBodyLimits = {
  maxStringLength: Number.POSITIVE_INFINITY,
  maxListItems: Number.POSITIVE_INFINITY,
};

export function tooLongMessage(max: number): string {
  return `must be at most ${max} characters (GONG_MAX_STRING_LENGTH)`;
}

export function tooManyMessage(max: number): string {
  return `must have at most ${max} items (GONG_MAX_LIST_ITEMS)`;
}

const BLANK = /^\s*$/;

export function isBlank(value: string): boolean {
  return BLANK.test(value);
}

/** Absent for the anonymous-person rule: missing, null, or a string with nothing visible. */
export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && BLANK.test(value));
}

export function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
}

// RFC 3339's date-time, which is what the contract's "string (date-time)" means: seconds and an
// explicit offset are required, and "T" and "Z" may be lower case (RFC 3339 section 5.6). The
// calendar is checked below, not by the pattern.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

export function isIsoDateTime(value: string): boolean {
  const match = DATE_TIME.exec(value);
  if (match === null) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (Number(match[4]) > 23 || Number(match[5]) > 59 || Number(match[6]) > 59) return false;
  if (match[7] !== undefined && (Number(match[7]) > 23 || Number(match[8]) > 59)) return false;
  return true;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DURATION = /^(\d+(\.\d*)?|\.\d+)$/;
const BOOLEAN = /^(true|false)$/i;
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)?)?$/;

/** A calendar date, optionally with a time and offset: what a DATE custom field may hold. */
export function isIsoDate(value: string): boolean {
  const match = ISO_DATE.exec(value);
  if (match === null) return false;
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(Number(match[1]), month)) return false;
  if (match[4] !== undefined && (Number(match[4]) > 23 || Number(match[5]) > 59)) return false;
  if (match[6] !== undefined && Number(match[6]) > 59) return false;
  if (match[7] !== undefined && (Number(match[7]) > 23 || Number(match[8] ?? 0) > 59)) return false;
  return true;
}

/** Why a custom field value does not fit its declared dataType, or undefined when it does. */
export function customValueProblem(dataType: unknown, value: string): string | undefined {
  // A blank value is already reported as such; a second message about its format adds nothing.
  if (isBlank(value)) return undefined;
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
      return isIsoDate(value) ? undefined : 'must be an ISO 8601 date for dataType DATE';
    case 'URL':
      return URL.canParse(value) ? undefined : 'must be an absolute URL for dataType URL';
    default:
      return undefined;
  }
}

export interface RuleProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** Set when the contract does not state the rule; absent for documented rules. */
  readonly rule?: InferredRuleName;
}

/**
 * numericContentDetails: the range ordered and the value inside it (both inferred). Only once
 * both ends are valid int32s; a bad end is reported on its own.
 */
export function numericProblem(
  value: unknown,
  rangeFrom: unknown,
  rangeTo: unknown,
): RuleProblem | undefined {
  if (typeof rangeFrom !== 'number' || typeof rangeTo !== 'number') return undefined;
  if (!isInt32(rangeFrom) || !isInt32(rangeTo)) return undefined;
  if (rangeFrom > rangeTo) {
    return {
      path: ['rangeFrom'],
      message: `must not exceed rangeTo (${rangeTo})`,
      rule: 'numeric-range-order',
    };
  }
  if (typeof value === 'number' && isInt32(value) && (value < rangeFrom || value > rangeTo)) {
    return {
      path: ['value'],
      message: `must be within rangeFrom..rangeTo (${rangeFrom}..${rangeTo})`,
      rule: 'numeric-value-in-range',
    };
  }
  return undefined;
}

/** stepContentDetails: a non-empty availableSteps that holds the current step (both inferred). */
export function stepProblem(value: unknown, availableSteps: unknown): RuleProblem | undefined {
  if (!Array.isArray(availableSteps)) return undefined;
  if (availableSteps.length === 0) {
    return { path: ['availableSteps'], message: 'must have at least 1 item(s)', rule: 'steps-not-empty' };
  }
  if (typeof value !== 'string' || isBlank(value)) return undefined;
  if (!availableSteps.includes(value)) {
    return { path: ['value'], message: 'must be one of availableSteps', rule: 'step-in-available-steps' };
  }
  return undefined;
}

export const BLANK_RULE: InferredRuleName = 'blank-required-string';
export const UNKNOWN_FIELD_RULE: InferredRuleName = 'unknown-field';
export const CUSTOM_VALUE_RULE: InferredRuleName = 'custom-field-value-type';

export const ANONYMOUS_MESSAGE =
  'required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)';

/** The anonymous-person rule: which of personId and company.domain are missing, if it applies. */
export function anonymousPersonProblems(person: Record<string, unknown>): RuleProblem[] {
  const anonymous =
    isAbsent(person.name) &&
    isAbsent(person.email) &&
    isAbsent(person.phoneNumber) &&
    (person.personBusinessContext === undefined || person.personBusinessContext === null);
  if (!anonymous) return [];
  const problems: RuleProblem[] = [];
  if (isAbsent(person.personId)) problems.push({ path: ['personId'], message: ANONYMOUS_MESSAGE });
  const company = person.company;
  const domain =
    typeof company === 'object' && company !== null ? (company as Record<string, unknown>).domain : undefined;
  if (isAbsent(domain)) problems.push({ path: ['company', 'domain'], message: ANONYMOUS_MESSAGE });
  return problems;
}

/** person and trackingId exclude each other ("must be null if ... is sent instead"). */
export function personAndTrackingIdProblem(person: unknown, trackingId: unknown): RuleProblem | undefined {
  if (person === undefined || person === null || trackingId === undefined || trackingId === null)
    return undefined;
  return {
    path: ['trackingId'],
    message: 'must be absent when person is sent (send either person or trackingId)',
  };
}
