import { BridgeError } from '../errors.ts';
import type { GongBody } from '../gong/body-schema.ts';
import { validateGongBody, type GongBodyValidator } from '../gong/validate.ts';
import type { InferredRuleName } from '../gong/rule-catalogue.ts';
import type { BodyPlan, MappingPlan } from './compile.ts';
import { describeEvaluationError, NEEDS_INTERPRETER } from './expression.ts';
import { truthy } from './fast-path.ts';
import type { MappingMatch } from './file-schema.ts';
import type { KnownFields } from './known-fields.ts';
import { shapeBody } from './shape.ts';

/** A mapping ready to run: built once by loadMappings, then applied to every record it selects. */
export interface CompiledMapping {
  readonly name: string;
  /** The file it came from, for messages. */
  readonly file: string;
  readonly match: MappingMatch;
  /** The writer schema the field references were checked against, if it was known. */
  readonly knownFields: KnownFields | undefined;
  /**
   * Body fields whose expressions use JSONata beyond the compiled subset; they run on the JSONata
   * interpreter, about twenty times slower (docs/mappings.md, "Speed"). Worth a log line at start-up.
   */
  readonly interpretedFields: readonly string[];
  readonly plan: MappingPlan;
}

/**
 * The outcome for one record. A failed result carries a non-retriable BridgeError for the
 * dead-letter topic: MAPPING_FAILED when an expression threw (details: `<field>: <message>`),
 * GONG_INVALID when the body it built breaks Gong's rules (details: the validator's paths).
 * `warnings` and `inferredRules` are the validator's, as for canonical events (validate.ts).
 */
export type MappingResult =
  | {
      readonly ok: true;
      readonly body: GongBody;
      readonly warnings?: readonly string[];
      readonly inferredRules?: readonly InferredRuleName[];
    }
  | {
      readonly ok: false;
      readonly error: BridgeError;
      readonly inferredRules?: readonly InferredRuleName[];
    };

/** What a mapping built before validation, tidied (shape.ts); or MAPPING_FAILED. */
export type BuiltBody =
  { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly error: BridgeError };

const MAX_REPORTED = 3;

/**
 * Builds Gong's body from a decoded event with `mapping`, then validates it with `validate` (the
 * configured validator in the pipeline: limits and inferred-rule settings; the defaults
 * otherwise). Pure: the same event always gives the same result (no clock, no randomness). Never
 * rejects; every failure is a result.
 */
export async function applyMapping(
  mapping: CompiledMapping,
  event: unknown,
  validate: GongBodyValidator = validateGongBody,
): Promise<MappingResult> {
  const built = await buildBody(mapping, event);
  if (!built.ok) return built;
  const validation = validate(built.body);
  const rules = validation.inferredRules === undefined ? {} : { inferredRules: validation.inferredRules };
  if (validation.ok) {
    return {
      ok: true,
      body: validation.body,
      ...(validation.warnings === undefined ? {} : { warnings: validation.warnings }),
      ...rules,
    };
  }
  return {
    ok: false,
    error: new BridgeError(
      'GONG_INVALID',
      `mapping "${mapping.name}" built a body Gong would refuse: ${summarise(validation.errors)}`,
      {
        context: { details: validation.errors },
      },
    ),
    ...rules,
  };
}

/**
 * The body `mapping` builds from `event`, tidied but not validated (doctor looks at what a mapping
 * fills). Expressions run on their compiled closures; the few that decline (or are outside the
 * subset) are handed to the JSONata interpreter together, so the await costs one microtask when
 * none do.
 */
export async function buildBody(mapping: CompiledMapping, event: unknown): Promise<BuiltBody> {
  const { expressions } = mapping.plan;
  const values: unknown[] = new Array(expressions.length);
  const errors: (unknown | undefined)[] = new Array(expressions.length);
  let pending: number[] | undefined;
  for (let index = 0; index < expressions.length; index++) {
    try {
      const value = expressions[index]!.expression.evaluateFast(event);
      if (value === NEEDS_INTERPRETER) (pending ??= []).push(index);
      else values[index] = value;
    } catch (error) {
      errors[index] = error ?? new Error('the expression threw nothing');
    }
  }
  if (pending !== undefined) {
    await Promise.all(
      pending.map(async (index) => {
        try {
          values[index] = await expressions[index]!.expression.interpret(event);
        } catch (error) {
          errors[index] = error ?? new Error('the expression threw nothing');
        }
      }),
    );
  }

  // Errors count only where their value is used: an expression under a `when` that is false did
  // not need to succeed.
  const failures: string[] = [];
  const take = (index: number): unknown => {
    const error = errors[index];
    if (error !== undefined) {
      failures.push(`${expressions[index]!.field}: ${describeEvaluationError(error)}`);
      return undefined;
    }
    return values[index];
  };
  const built = build(mapping.plan.body, take);
  if (failures.length > 0) return mappingFailed(mapping, failures);
  if (typeof built !== 'object' || built === null || Array.isArray(built)) {
    return mappingFailed(mapping, [
      `(body): must build an object, got ${built === null ? 'null' : Array.isArray(built) ? 'a list' : typeof built}`,
    ]);
  }
  return { ok: true, body: shapeBody(built) };
}

/**
 * The same mapping with every expression left to the JSONata interpreter: what the mapping costs
 * without the compiled fast path (bench/transform.bench.ts), and the reference the fast path is
 * held to in tests.
 */
export function interpreterOnly(mapping: CompiledMapping): CompiledMapping {
  const expressions = mapping.plan.expressions.map((entry) => ({
    field: entry.field,
    expression: { ...entry.expression, compiled: false, evaluateFast: () => NEEDS_INTERPRETER },
  }));
  return {
    ...mapping,
    interpretedFields: expressions.map((entry) => entry.field),
    plan: { ...mapping.plan, expressions },
  };
}

function build(plan: BodyPlan, take: (index: number) => unknown): unknown {
  switch (plan.kind) {
    case 'constant':
      return plan.value;
    case 'expression':
      return take(plan.index);
    case 'object': {
      if (plan.when !== undefined && !holds(take(plan.when))) return undefined;
      const out: Record<string, unknown> = {};
      for (const [key, child] of plan.entries) {
        const value = build(child, take);
        if (value !== undefined) out[key] = value;
      }
      return out;
    }
    case 'list': {
      const out: unknown[] = [];
      for (const item of plan.items) {
        const value = build(item, take);
        if (Array.isArray(value)) out.push(...(value as unknown[]));
        else if (value !== undefined) out.push(value);
      }
      return out;
    }
  }
}

function holds(value: unknown): boolean {
  try {
    return truthy(value);
  } catch {
    // Only an infinite number declines here; JSONata raises D1001 for it, and it does not hold.
    return false;
  }
}

function summarise(details: readonly string[]): string {
  const shown = details.slice(0, MAX_REPORTED).join('; ');
  return details.length > MAX_REPORTED ? `${shown} (and ${details.length - MAX_REPORTED} more)` : shown;
}

function mappingFailed(mapping: CompiledMapping, failures: readonly string[]): BuiltBody {
  return {
    ok: false,
    error: new BridgeError('MAPPING_FAILED', `mapping "${mapping.name}" failed: ${summarise(failures)}`, {
      context: { details: failures },
    }),
  };
}
