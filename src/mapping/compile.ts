import { formatPath } from '../gong/validate.ts';
import {
  describeEvaluationError,
  ExpressionSyntaxError,
  compileExpression,
  type CompiledExpression,
} from './expression.ts';
import { checkFieldReferences, closest } from './field-check.ts';
import { bodyKeywords, type MappingDefinition } from './file-schema.ts';
import { gongBody, type GongField } from './gong-fields.ts';
import type { KnownFields } from './known-fields.ts';

/**
 * Turns one mapping definition into a plan: the body tree, checked against Gong's fields, with
 * every expression compiled and (when the writer schema is known) its field references checked.
 * Problems are collected, not thrown, so one start-up names all of them.
 *
 * A body tree node is one of:
 * - a string: a JSONata expression over the decoded event;
 * - a number or boolean, or `{const: value}`: a constant;
 * - at an object field: a map of its fields, optionally with `when: <expression>`, which drops
 *   the whole object when it is false (JSONata's truthiness);
 * - at a list field: a list of items (each a node of the item's kind; an expression item that
 *   yields a list is spliced in), or one expression yielding the list.
 */
export type BodyPlan =
  | { readonly kind: 'constant'; readonly value: unknown }
  | { readonly kind: 'expression'; readonly index: number }
  | {
      readonly kind: 'object';
      readonly when: number | undefined;
      readonly entries: readonly (readonly [string, BodyPlan])[];
    }
  | { readonly kind: 'list'; readonly items: readonly BodyPlan[] };

export interface PlannedExpression {
  /** The body field it fills, as the validator writes paths (`content.contentLabel[1]`, `person.when`). */
  readonly field: string;
  readonly expression: CompiledExpression;
}

export interface MappingPlan {
  readonly body: BodyPlan;
  readonly expressions: readonly PlannedExpression[];
}

export interface CompileProblem {
  /** Where in the mapping definition, for the file's line number: ['body', 'content', 'contentTitle']. */
  readonly at: readonly (string | number)[];
  /** The body field, as the validator writes paths; '(body)' for a whole-body expression. */
  readonly field: string;
  readonly message: string;
  /** The expression, when the problem is in one. */
  readonly expression?: string;
}

export function planMapping(
  definition: MappingDefinition,
  known: KnownFields | undefined,
): { plan: MappingPlan; problems: CompileProblem[] } {
  const expressions: PlannedExpression[] = [];
  const problems: CompileProblem[] = [];

  function addExpression(
    source: string,
    at: readonly (string | number)[],
    field: string,
  ): BodyPlan | undefined {
    let expression: CompiledExpression;
    try {
      expression = compileExpression(source);
    } catch (error) {
      const message =
        error instanceof ExpressionSyntaxError
          ? `does not compile: ${error.message}${error.code === undefined ? '' : ` (JSONata ${error.code}${error.position === undefined ? '' : ` at character ${error.position}`})`}`
          : `does not compile: ${describeEvaluationError(error)}`;
      problems.push({ at, field, message, expression: source });
      return undefined;
    }
    if (known !== undefined) {
      for (const problem of checkFieldReferences(expression.ast, known)) {
        const where = problem.position === undefined ? '' : ` (character ${problem.position})`;
        problems.push({ at, field, message: `${problem.message}${where}`, expression: source });
      }
    }
    expressions.push({ field, expression });
    return { kind: 'expression', index: expressions.length - 1 };
  }

  function plan(
    spec: unknown,
    gong: GongField,
    at: readonly (string | number)[],
    path: readonly (string | number)[],
  ): BodyPlan | undefined {
    const field = formatPath(path);
    if (typeof spec === 'string') return addExpression(spec, at, field);
    if (typeof spec === 'number' || typeof spec === 'boolean') return checkConstant(spec, gong, at, field);
    if (spec === null || spec === undefined) {
      problems.push({
        at,
        field,
        message: 'has no value: give an expression, a constant or leave the field out',
      });
      return undefined;
    }
    if (Array.isArray(spec)) {
      if (gong.kind !== 'list') {
        problems.push({ at, field, message: `is ${describeGong(gong)}, not a list` });
        return undefined;
      }
      const items: BodyPlan[] = [];
      spec.forEach((item, index) => {
        const planned = plan(item, gong.item, [...at, index], [...path, index]);
        if (planned !== undefined) items.push(planned);
      });
      return { kind: 'list', items };
    }
    if (typeof spec === 'object') {
      const entries = Object.entries(spec);
      const constant = entries.find(([key]) => key === bodyKeywords.constant);
      if (constant !== undefined) {
        if (entries.length > 1) {
          problems.push({
            at,
            field,
            message: `"${bodyKeywords.constant}" stands alone: {${bodyKeywords.constant}: value}`,
          });
          return undefined;
        }
        return checkConstant(constant[1], gong, at, field);
      }
      if (gong.kind !== 'object') {
        problems.push({
          at,
          field,
          message: `is ${describeGong(gong)}: give an expression, or {${bodyKeywords.constant}: value} for a constant`,
        });
        return undefined;
      }
      return planObject(spec as Record<string, unknown>, gong, at, path);
    }
    problems.push({ at, field, message: `cannot be ${typeof spec}` });
    return undefined;
  }

  function planObject(
    spec: Record<string, unknown>,
    gong: Extract<GongField, { kind: 'object' }>,
    at: readonly (string | number)[],
    path: readonly (string | number)[],
  ): BodyPlan {
    let when: number | undefined;
    const entries: [string, BodyPlan][] = [];
    for (const [key, value] of Object.entries(spec)) {
      const keyAt = [...at, key];
      if (key === bodyKeywords.condition) {
        const field = formatPath([...path, key]);
        if (typeof value !== 'string') {
          problems.push({ at: keyAt, field, message: 'must be an expression (a string)' });
          continue;
        }
        const planned = addExpression(value, keyAt, field);
        if (planned?.kind === 'expression') when = planned.index;
        continue;
      }
      const child = gong.fields.get(key);
      if (child === undefined) {
        const near = closest(key, [...gong.fields.keys()]);
        const hint = near === undefined ? `; ${describeFields(gong)}` : `; did you mean ${near}?`;
        problems.push({
          at: keyAt,
          field: formatPath([...path, key]),
          message: `is not a Gong field${hint}`,
        });
        continue;
      }
      const planned = plan(value, child, keyAt, [...path, key]);
      if (planned !== undefined) entries.push([key, planned]);
    }
    for (const [name, child] of gong.fields) {
      if (child.required && !(name in spec)) {
        problems.push({
          at,
          field: formatPath([...path, name]),
          message: 'is required by Gong but the mapping does not fill it',
        });
      }
    }
    return { kind: 'object', when, entries };
  }

  function checkConstant(
    value: unknown,
    gong: GongField,
    at: readonly (string | number)[],
    field: string,
  ): BodyPlan | undefined {
    if (gong.kind === 'enum' && !gong.values.includes(value as string)) {
      problems.push({
        at,
        field,
        message: `must be one of ${gong.values.join(', ')}, got ${JSON.stringify(value)}`,
      });
      return undefined;
    }
    return { kind: 'constant', value };
  }

  let body: BodyPlan | undefined;
  if (typeof definition.body === 'string') {
    body = addExpression(definition.body, ['body'], '(body)');
  } else {
    body = planObject(definition.body, gongBody, ['body'], []);
  }
  return { plan: { body: body ?? { kind: 'constant', value: undefined }, expressions }, problems };
}

function describeGong(field: GongField): string {
  switch (field.kind) {
    case 'object':
      return 'an object';
    case 'list':
      return 'a list';
    case 'text':
      return 'text';
    case 'integer':
      return 'an integer';
    case 'enum':
      return `one of ${field.values.join(', ')}`;
  }
}

function describeFields(field: Extract<GongField, { kind: 'object' }>): string {
  return `Gong's fields here are ${[...field.fields.keys()].join(', ')}`;
}
