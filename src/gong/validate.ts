import type { z } from 'zod';
import { settings, type Settings } from '../config/settings.ts';
import { createFastPath, FastVerdict } from './body-fast-path.ts';
import { unboundedBodyLimits, type GongBodyLimits } from './body-rules.ts';
import { buildGongBodySchema, type GongBody, type GongBodySchemas } from './body-schema.ts';
import { inferredRuleNames, type InferredRuleMode, type InferredRuleName } from './rule-catalogue.ts';

export type { GongBody } from './body-schema.ts';

/**
 * The verdict on a candidate body, in the three tiers of rule-catalogue.ts:
 * - `errors` withhold the event (no call): documented rules, the bridge's limits, and inferred
 *   rules set to reject. Each reads `<path>: <message>`, an inferred one followed by
 *   `[inferred rule <name>]`.
 * - `warnings` are inferred rules set to send: the event goes to Gong all the same, flagged.
 * - `inferredRules` names every inferred rule the body broke, in either list, in catalogue order.
 * `warnings` and `inferredRules` are present only when not empty, so a clean body is exactly
 * `{ ok: true, body }`.
 */
export type GongValidation =
  | {
      readonly ok: true;
      readonly body: GongBody;
      readonly warnings?: string[];
      readonly inferredRules?: readonly InferredRuleName[];
    }
  | {
      readonly ok: false;
      readonly errors: string[];
      readonly warnings?: string[];
      readonly inferredRules?: readonly InferredRuleName[];
    };

export type GongBodyValidator = (input: unknown) => GongValidation;

export interface GongValidatorOptions {
  readonly limits: GongBodyLimits;
  /** True for an inferred rule whose breach withholds the event; the rest are sent and flagged. */
  readonly rejects: (rule: InferredRuleName) => boolean;
}

/**
 * More problems than this in one body are summarised in a last line: one record must not turn
 * into a dead-letter header or a log line of megabytes (a list of thousands of bad items).
 */
export const MAX_REPORTED_PROBLEMS = 50;

/**
 * A validator for the given limits and inferred-rule policy. The fast path gives the verdict for
 * clean bodies; zod runs only for the others, to name every problem and sort it into its tier.
 */
export function createGongBodyValidator(options: GongValidatorOptions): GongBodyValidator {
  const fast = createFastPath(options.limits);
  const schema = buildGongBodySchema(options.limits).body;
  const { rejects } = options;
  const validator: GongBodyValidator = (input) => {
    const validation = judge(input);
    if (validation.ok) passed.set(validation.body, { validator, validation });
    return validation;
  };
  return validator;

  function judge(input: unknown): GongValidation {
    // The fast path agrees with the schema (a property test holds them equal).
    if (fast(input) === FastVerdict.clean) return { ok: true, body: input as GongBody };
    const result = schema.safeParse(input, { error: describeIssue });
    if (result.success) return { ok: true, body: result.data };
    const errors: string[] = [];
    const warnings: string[] = [];
    const broken = new Set<InferredRuleName>();
    for (const issue of result.error.issues) {
      for (const { rule, text } of describeProblems(issue)) {
        if (rule === undefined) {
          errors.push(text);
          continue;
        }
        broken.add(rule);
        (rejects(rule) ? errors : warnings).push(`${text} [inferred rule ${rule}]`);
      }
    }
    const extra = {
      ...(warnings.length === 0 ? {} : { warnings: bounded(warnings) }),
      ...(broken.size === 0 ? {} : { inferredRules: inferredRuleNames.filter((rule) => broken.has(rule)) }),
    };
    if (errors.length > 0) return { ok: false, errors: bounded(errors), ...extra };
    // Only inferred rules set to send were broken: zod has no output for a failed parse, but
    // the input is exactly what the schema describes apart from those rules.
    return { ok: true, body: input as GongBody, ...extra };
  }
}

/**
 * The verdicts validators gave the bodies they passed, by body. `run` validates a body where it
 * is made (the transform, with the engine's own validator) and the engine validates before it
 * sends; with this the engine reuses the verdict its own validator already gave, so a body is
 * walked once per record, not twice. A body is never changed once validated: the transform builds
 * it and hands it to the engine as it is.
 */
const passed = new WeakMap<
  object,
  { readonly validator: GongBodyValidator; readonly validation: GongValidation }
>();

/** The verdict `validator` gave this very body when it passed it; undefined if it never did. */
export function verdictOf(body: unknown, validator: GongBodyValidator): GongValidation | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const entry = passed.get(body);
  return entry?.validator === validator ? entry.validation : undefined;
}

/** The validator settings, parsed once in the wiring (run, send, replay-dlq, the CLI checks). */
export type GongValidationSettings = Pick<
  Settings,
  | 'GONG_MAX_BODY_BYTES'
  | 'GONG_MAX_STRING_LENGTH'
  | 'GONG_MAX_LIST_ITEMS'
  | 'GONG_INFERRED_RULES'
  | 'GONG_INFERRED_RULES_REJECT'
>;

export function gongValidatorOptions(
  config: GongValidationSettings,
  mode: InferredRuleMode = config.GONG_INFERRED_RULES,
): GongValidatorOptions {
  const rejected = new Set<InferredRuleName>(config.GONG_INFERRED_RULES_REJECT ?? []);
  return {
    limits: {
      maxStringLength: config.GONG_MAX_STRING_LENGTH ?? config.GONG_MAX_BODY_BYTES,
      maxListItems: config.GONG_MAX_LIST_ITEMS,
    },
    rejects: mode === 'reject' ? () => true : (rule) => rejected.has(rule),
  };
}

/** The defaults of every validation setting, from their one declaration in settings.ts. */
export const defaultValidationSettings: GongValidationSettings = {
  GONG_MAX_BODY_BYTES: settings.GONG_MAX_BODY_BYTES.schema.parse(undefined),
  GONG_MAX_STRING_LENGTH: settings.GONG_MAX_STRING_LENGTH.schema.parse(undefined),
  GONG_MAX_LIST_ITEMS: settings.GONG_MAX_LIST_ITEMS.schema.parse(undefined),
  GONG_INFERRED_RULES: settings.GONG_INFERRED_RULES.schema.parse(undefined),
  GONG_INFERRED_RULES_REJECT: settings.GONG_INFERRED_RULES_REJECT.schema.parse(undefined),
};

export const defaultBodyLimits: GongBodyLimits = gongValidatorOptions(defaultValidationSettings).limits;

/**
 * Checks a candidate request body against Gong's contract with the default settings. Errors read
 * `<path>: <message>` with dotted, indexed paths (`person.company.companyBusinessContexts[0].objectType: ...`)
 * so a dead-lettered record, a sandbox 400 and `check-payload` all say exactly what to fix.
 */
export const validateGongBody: GongBodyValidator = createGongBodyValidator(
  gongValidatorOptions(defaultValidationSettings),
);

/**
 * What Gong's contract states, and nothing else: no limits of ours, every inferred rule sent.
 * The sandbox answers with it; with `strict`, inferred rules are refused too, the way a Gong that
 * enforced all of them would.
 */
export function contractValidator(strict = false): GongBodyValidator {
  return createGongBodyValidator({ limits: unboundedBodyLimits, rejects: () => strict });
}

/** The zod model for the given limits, for tests and benchmarks that compare against it. */
export function gongBodySchemas(limits: GongBodyLimits = defaultBodyLimits): GongBodySchemas {
  return buildGongBodySchema(limits);
}

function bounded(problems: string[]): string[] {
  if (problems.length <= MAX_REPORTED_PROBLEMS) return problems;
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS - 1);
  shown.push(`(root): ${problems.length - shown.length} more problems not listed`);
  return shown;
}

/**
 * The inferred rule a zod issue of the body schema reports, or undefined for a documented rule
 * or a limit: unknown keys are zod's own issue, every other inferred check names its rule.
 */
export function inferredRuleOf(issue: z.core.$ZodIssue): InferredRuleName | undefined {
  if (issue.code === 'unrecognized_keys') return 'unknown-field';
  return issue.code === 'custom' ? (issue.params?.rule as InferredRuleName | undefined) : undefined;
}

function describeProblems(issue: z.core.$ZodIssue): { rule?: InferredRuleName; text: string }[] {
  const rule = inferredRuleOf(issue);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      rule: 'unknown-field' as const,
      text: `${formatPath([...issue.path, key])}: unknown field`,
    }));
  }
  const text = `${formatPath(issue.path)}: ${issue.message}`;
  return [rule === undefined ? { text } : { rule, text }];
}

/**
 * `['person', 'company', 'companyBusinessContexts', 0, 'objectType']` →
 * `person.company.companyBusinessContexts[0].objectType`. A key that is not an identifier (only
 * possible for unknown fields) is quoted, `content["a b"]`, so the path stays unambiguous, and
 * cut short when long, since an unknown key is input and may be any size.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && segment.length <= MAX_KEY_SHOWN && IDENTIFIER.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else {
      const key = String(segment);
      out += `[${JSON.stringify(key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN - 3)}...` : key)}]`;
    }
  }
  return out;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const MAX_KEY_SHOWN = 60;

function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      if (issue.input === null) return 'required, got null';
      return `expected ${issue.expected}, got ${kindOf(issue.input)}`;
    }
    case 'invalid_value':
      if (issue.input === undefined) return 'required';
      if (issue.input === null) return 'required, got null';
      return `must be one of ${issue.values.map(String).join(', ')}, got ${describeValue(issue.input)}`;
    default:
      return undefined;
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

function describeValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : kindOf(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
