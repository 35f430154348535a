import { validateGongBody, type GongBodyValidator, type GongValidation } from '../gong/validate.ts';
import type {
  EventCompany,
  EventContent,
  EventCustomField,
  EventLocation,
  EventPerson,
  InteractionEvent,
} from './interaction-event.ts';

export type { InteractionEvent } from './interaction-event.ts';

/** The validator's verdict on the body, or the transform's own refusal (no body could be made). */
export type TransformResult = GongValidation;

// ISO 8601 without the expanded-year extension only spans years 0000..9999; Date#toISOString
// would print "+010000-..." outside it, which Gong cannot parse.
const MIN_ISO_MS = -62_167_219_200_000;
const MAX_ISO_MS = 253_402_300_799_999;

/**
 * Turns a decoded canonical event into the body of `POST /v2/digital-interaction`, then validates
 * it with `validate` (the configured one in the pipeline, the defaults otherwise). Pure and total:
 * any schema-valid event yields either a body to send (with warnings for the inferred rules it
 * breaks) or a rejection whose every error names the offending path (`<path>: <message>`), never
 * an exception.
 *
 * Empty optionals are dropped rather than sent, because Gong treats "" differently from absent
 * in the anonymous-person rule and an empty array or object carries nothing. Required fields are
 * passed through even when empty, so the validator names them instead of the transform hiding
 * the problem. `person` is kept whenever the event has one, even if every field is empty: such a
 * person is anonymous without identifiers, and dropping it would send an unattributable event.
 */
export function transformEvent(
  event: InteractionEvent,
  validate: GongBodyValidator = validateGongBody,
): TransformResult {
  if (typeof event !== 'object' || event === null) return reject('(root)', 'expected an event record');
  const timestamp = toIsoTimestamp(event.timestamp);
  if (timestamp === undefined) {
    return reject(
      'timestamp',
      `must be epoch milliseconds within years 0000-9999, got ${describe(event.timestamp)}`,
    );
  }
  const content = event.content as EventContent | null | undefined;
  if (typeof content !== 'object' || content === null) return reject('content', 'required');

  const body: Record<string, unknown> = { eventId: event.eventId, timestamp, eventType: event.eventType };
  setString(body, 'sourceSystemName', event.sourceSystemName);
  setString(body, 'sessionId', event.sessionId);
  if (event.device !== undefined && event.device !== null) body.device = event.device;
  body.content = mapContent(content);
  if (event.person !== undefined && event.person !== null) body.person = mapPerson(event.person);
  setCustomFields(body, 'customFields', event.customFields);
  setString(body, 'trackingId', event.trackingId);

  return validate(body);
}

function mapContent(content: EventContent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  setString(out, 'contentId', content.contentId);
  out.contentTitle = content.contentTitle;
  const labels = content.contentLabel;
  if (labels !== undefined && labels !== null && labels.length > 0) {
    const kept = labels.filter(isPresent);
    if (kept.length > 0) out.contentLabel = kept;
  }
  setString(out, 'contentUrl', content.contentUrl);
  setString(out, 'contentAdditionalInfoUrl', content.contentAdditionalInfoUrl);

  const numeric = content.numericContentDetails;
  if (numeric !== undefined && numeric !== null) {
    const details: Record<string, unknown> = {};
    if (numeric.value !== undefined && numeric.value !== null) details.value = numeric.value;
    details.rangeFrom = numeric.rangeFrom;
    details.rangeTo = numeric.rangeTo;
    if (numeric.numericType !== undefined && numeric.numericType !== null)
      details.numericType = numeric.numericType;
    out.numericContentDetails = details;
  }

  const step = content.stepContentDetails;
  if (step !== undefined && step !== null) {
    // availableSteps is required by Gong: pass it through as is so an empty list is reported.
    out.stepContentDetails = { value: step.value, availableSteps: step.availableSteps ?? [] };
  }

  const search = content.searchObjectDetails;
  if (search !== undefined && search !== null) {
    const details: Record<string, unknown> = {
      name: search.name,
      objectType: search.objectType,
      domain: search.domain,
    };
    setString(details, 'objectId', search.objectId);
    setString(details, 'url', search.url);
    out.searchObjectDetails = details;
  }

  setCustomFields(out, 'contentCustomFields', content.contentCustomFields);
  return out;
}

function mapPerson(person: EventPerson): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  setString(out, 'name', person.name);
  setString(out, 'email', person.email);
  setString(out, 'phoneNumber', person.phoneNumber);
  setString(out, 'personId', person.personId);
  const context = person.personBusinessContext;
  if (context !== undefined && context !== null) {
    const mapped: Record<string, unknown> = { objectType: context.objectType, objectId: context.objectId };
    setString(mapped, 'systemName', context.systemName);
    out.personBusinessContext = mapped;
  }
  if (person.location !== undefined && person.location !== null) {
    const location = mapLocation(person.location);
    if (location !== undefined) out.location = location;
  }
  if (person.company !== undefined && person.company !== null) {
    const company = mapCompany(person.company);
    if (company !== undefined) out.company = company;
  }
  setCustomFields(out, 'personCustomFields', person.personCustomFields);
  return out;
}

function mapLocation(location: EventLocation): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let any = setString(out, 'country', location.country);
  any = setString(out, 'state', location.state) || any;
  any = setString(out, 'region', location.region) || any;
  any = setString(out, 'city', location.city) || any;
  return any ? out : undefined;
}

function mapCompany(company: EventCompany): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let any = setString(out, 'companyId', company.companyId);
  any = setString(out, 'name', company.name) || any;
  any = setString(out, 'domain', company.domain) || any;
  const contexts = company.companyBusinessContexts;
  if (contexts !== undefined && contexts !== null && contexts.length > 0) {
    out.companyBusinessContexts = contexts.map((context) => {
      const mapped: Record<string, unknown> = { objectType: context.objectType, objectId: context.objectId };
      setString(mapped, 'systemName', context.systemName);
      return mapped;
    });
    any = true;
  }
  return any ? out : undefined;
}

function setCustomFields(
  out: Record<string, unknown>,
  key: string,
  fields: readonly EventCustomField[] | null | undefined,
): void {
  if (fields === undefined || fields === null || fields.length === 0) return;
  out[key] = fields.map((field) => ({
    name: field.name,
    value: field.value,
    dataType: field.dataType ?? 'STRING',
  }));
}

/** Sets `key` only for a string with a visible character; reports whether it did. */
function setString(out: Record<string, unknown>, key: string, value: string | null | undefined): boolean {
  if (!isPresent(value)) return false;
  out[key] = value;
  return true;
}

const VISIBLE = /\S/;

function isPresent(value: string | null | undefined): value is string {
  return typeof value === 'string' && VISIBLE.test(value);
}

/** Epoch milliseconds (number, bigint or Date) as ISO 8601 UTC, or undefined outside years 0000-9999. */
export function toIsoTimestamp(value: unknown): string | undefined {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value;
  else if (typeof value === 'bigint') ms = Number(value);
  else return undefined;
  if (!Number.isFinite(ms) || ms < MIN_ISO_MS || ms > MAX_ISO_MS) return undefined;
  return new Date(ms).toISOString();
}

function describe(value: unknown): string {
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? 'an invalid Date' : String(value.getTime());
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return value === null ? 'null' : typeof value;
}

function reject(path: string, message: string): TransformResult {
  return { ok: false, errors: [`${path}: ${message}`] };
}
