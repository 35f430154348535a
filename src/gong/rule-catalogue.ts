/**
 * Every rule the body validator applies, sorted by where it comes from. Gong publishes one
 * contract for `POST /v2/digital-interaction` ("Add a digital Interaction", updated 2025-11-17);
 * only what it states may withhold an event without asking Gong. Everything else we check is a
 * guess about Gong, and a guess must not cost a user an event Gong would have taken:
 *
 * - documented: the contract states it. The event is dead-lettered (GONG_INVALID), no call.
 * - inferred: we read it into the contract's wording, but the contract does not state it. By
 *   default the event is sent and flagged; GONG_INFERRED_RULES / GONG_INFERRED_RULES_REJECT can
 *   withhold it instead, per rule, once Gong's answers show it enforces the rule.
 * - limits: the bridge's own bounds (settings), never Gong's; always enforced.
 *
 * `spec` quotes the contract and gives the line in shared/gong/digital-interaction-api.md, the
 * copy the team works from. docs/reference/body-rules.md is generated from these tables.
 */

export interface DocumentedRule {
  readonly name: string;
  readonly doc: string;
  readonly spec: string;
}

export interface InferredRule {
  readonly name: string;
  readonly doc: string;
  /** Why we suspected it, and what the contract does (not) say. */
  readonly basis: string;
}

export const documentedRules = [
  {
    name: 'types',
    doc: 'Each field has the type the contract gives it (string, integer, object, array of strings or of objects); a body is a JSON object.',
    spec: 'The type beside every field, e.g. "eventId string" (L23), "contentLabel Array of string" (L63), "numericContentDetails object" (L79), "customFields Array of object (CustomField)" (L309).',
  },
  {
    name: 'required',
    doc: 'Required fields are present and not null.',
    spec: '"Required" on eventId (L23), timestamp (L27), eventType (L31), content (L51), contentTitle (L59), rangeFrom and rangeTo (L87, L91), stepContentDetails value and availableSteps (L110, L114), searchObjectDetails name, objectType and domain (L126, L130, L139), every custom field\'s name and value (L159, L163, L288, L292, L317, L321), personBusinessContext objectType and objectId (L204, L212), companyBusinessContexts objectType and objectId (L264, L272).',
  },
  {
    name: 'enum',
    doc: 'Enumerated fields hold one of the listed values, in upper case.',
    spec: '"Valid values" of device (L47), numericType (L99), searchObjectDetails.objectType (L134), every dataType (L171, L300, L329), personBusinessContext.objectType (L208), companyBusinessContexts objectType (L268).',
  },
  {
    name: 'int32',
    doc: 'numericContentDetails value, rangeFrom and rangeTo are integers within -2147483648..2147483647.',
    spec: '"integer (int32)" on value (L83), rangeFrom (L87) and rangeTo (L91).',
  },
  {
    name: 'date-time',
    doc: 'timestamp is a full date-time with seconds and a UTC offset (RFC 3339, e.g. 2025-01-31T12:00:00Z), on a real calendar day.',
    spec: '"timestamp string (date-time)" (L27): OpenAPI\'s date-time format is RFC 3339\'s; "in ISO 8601 format" (L29).',
  },
  {
    name: 'person-or-tracking-id',
    doc: 'person and trackingId are not sent together.',
    spec: 'person: "Must be null if a tracking ID is sent instead." (L182); trackingId: "Must be null if a person is sent instead." (L340).',
  },
  {
    name: 'anonymous-person',
    doc: 'A person with no name, email, phoneNumber or personBusinessContext has a personId and a company.domain.',
    spec: 'personId (L198) and company.domain (L254): "Mandatory for anonymous person, when the name, email, phoneNumber and personBusinessContext are empty".',
  },
] as const satisfies readonly DocumentedRule[];

export const inferredRules = [
  {
    name: 'unknown-field',
    doc: 'A field the contract does not define.',
    basis:
      'The contract lists the fields but does not say that others are refused; Gong may ignore them. Usually a misspelt optional field, whose data Gong would then drop.',
  },
  {
    name: 'blank-required-string',
    doc: 'A required string that is empty or only whitespace.',
    basis:
      '"Required" asks for the field, not for content. A blank eventId cannot deduplicate and a blank contentTitle shows nothing, but the contract states no minimum length.',
  },
  {
    name: 'numeric-range-order',
    doc: 'numericContentDetails.rangeFrom is above rangeTo.',
    basis:
      'rangeFrom is "The lowest value that can be given to the content" (L89) and rangeTo "The highest value" (L93); the contract does not say Gong checks their order.',
  },
  {
    name: 'numeric-value-in-range',
    doc: 'numericContentDetails.value lies outside rangeFrom..rangeTo.',
    basis:
      'Read from the same descriptions of rangeFrom and rangeTo (L89, L93); the contract does not say Gong checks the value against them.',
  },
  {
    name: 'steps-not-empty',
    doc: 'stepContentDetails.availableSteps is an empty list.',
    basis: 'availableSteps is Required (L114), but the contract states no minimum number of items.',
  },
  {
    name: 'step-in-available-steps',
    doc: 'stepContentDetails.value is not one of availableSteps.',
    basis:
      'value is "The current step the person is in" (L112) and availableSteps "A list of all available steps" (L116); the contract does not say Gong checks one against the other.',
  },
  {
    name: 'custom-field-value-type',
    doc: 'A custom field value that does not parse as its dataType: NUMBER, DATE (ISO 8601), URL (absolute), BOOLEAN (true/false), DURATION (seconds, not negative). STRING takes anything.',
    basis:
      'The dataType description names the formats (L169, "NUMBER, STRING, DATE (ISO 8601), URL, DURATION (in Seconds)"), but value is a plain string (L163) and the contract does not say a mismatch is refused.',
  },
] as const satisfies readonly InferredRule[];

export type DocumentedRuleName = (typeof documentedRules)[number]['name'];
export type InferredRuleName = (typeof inferredRules)[number]['name'];

export const inferredRuleNames: readonly InferredRuleName[] = inferredRules.map((rule) => rule.name);

export function isInferredRuleName(value: string): value is InferredRuleName {
  return (inferredRuleNames as readonly string[]).includes(value);
}

/** What to do with an event that breaks an inferred rule. */
export type InferredRuleMode = 'send' | 'reject';
export const inferredRuleModes = ['send', 'reject'] as const satisfies readonly InferredRuleMode[];

/**
 * Gong's answer to an event sent with inferred rules broken, as evidence about those rules: a
 * refusal of the body's content (400 "Malformed request", 422) confirms them, an acceptance (2xx)
 * refutes them. A 409 or a refusal for another reason (413 for size, other 4xx) says nothing. It
 * is evidence, not proof: Gong's errors[] (in the dead letter) tell whether it refused the body for
 * the predicted reason.
 */
export type InferredRuleVerdict = 'confirmed' | 'refuted';
export const inferredRuleVerdicts = [
  'confirmed',
  'refuted',
] as const satisfies readonly InferredRuleVerdict[];

export function verdictOfAnswer(
  outcome: 'delivered' | 'rejected',
  status: number,
): InferredRuleVerdict | undefined {
  if (outcome === 'delivered') return 'refuted';
  return status === 400 || status === 422 ? 'confirmed' : undefined;
}
