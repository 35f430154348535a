import { mappingHelpers, type MappingHelper } from './helpers.ts';

/**
 * A synchronous compiler for the part of JSONata that mappings use most: field paths over
 * records, literals, object and array constructors, conditions, comparisons, `and`/`or`, `&`,
 * arithmetic, a few string built-ins and gong-bridge's helpers. JSONata 2's own evaluator is
 * async at every node, about twenty times slower than a closure here, and the bridge maps every
 * record it reads; so each expression is compiled to closures once, at start-up.
 *
 * The JSONata interpreter stays the reference. The compiled form either returns exactly what
 * JSONata would, or declines (throws NEEDS_INTERPRETER) and the caller asks JSONata. It declines at
 * compile time for anything outside the subset (lambdas, filters, sorting, regexes, variables,
 * other built-ins) and at run time for any input that is not plain (a list in the middle of a
 * path, a non-finite number, a type error JSONata would report in its own words). A property test
 * holds the two to the same answers (test/mapping/fast-path.property.test.ts).
 */

/** An AST node as jsonata's parser returns it (`jsonata(source).ast()`). */
export interface AstNode {
  readonly type: string;
  readonly value?: unknown;
  readonly position?: number;
  readonly steps?: readonly AstNode[];
  readonly expressions?: readonly AstNode[];
  readonly arguments?: readonly AstNode[];
  readonly procedure?: AstNode;
  readonly lhs?: AstNode | readonly (readonly [AstNode, AstNode])[];
  readonly rhs?: AstNode;
  readonly expression?: AstNode;
  readonly condition?: AstNode;
  readonly then?: AstNode;
  readonly else?: AstNode;
  readonly [key: string]: unknown;
}

/** Thrown by compiled code that cannot answer for this input; never escapes evaluate(). */
export const NEEDS_INTERPRETER: unique symbol = Symbol('needs the JSONata interpreter');

/** `context` is the value names are read from; `root` is the whole event (`$$`). */
export type CompiledNode = (context: unknown, root: unknown) => unknown;

const helpersByName = new Map<string, MappingHelper>(mappingHelpers.map((helper) => [helper.name, helper]));

// The keys each node type may carry to be compiled; any other key (predicate, stages, group,
// keepArray, focus, tuple, ...) is a JSONata feature outside the subset.
const allowedKeys: Readonly<Record<string, ReadonlySet<string>>> = {
  string: new Set(['type', 'value', 'position']),
  number: new Set(['type', 'value', 'position']),
  value: new Set(['type', 'value', 'position']),
  variable: new Set(['type', 'value', 'position']),
  name: new Set(['type', 'value', 'position']),
  path: new Set(['type', 'steps']),
  block: new Set(['type', 'position', 'expressions']),
  condition: new Set(['type', 'position', 'condition', 'then', 'else']),
  binary: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  unary: new Set(['type', 'value', 'position', 'expression', 'expressions', 'lhs', 'consarray']),
  function: new Set(['type', 'value', 'position', 'arguments', 'procedure']),
};

function isPlainNode(node: AstNode): boolean {
  const allowed = allowedKeys[node.type];
  if (allowed === undefined) return false;
  // The parser leaves some keys present but undefined (`name` on calls); only set keys count.
  for (const key of Object.keys(node)) if (!allowed.has(key) && node[key] !== undefined) return false;
  return true;
}

const bail = (): never => {
  throw NEEDS_INTERPRETER;
};

/** Compiles `node`, or returns undefined when it uses JSONata outside the subset. */
export function compileFast(node: AstNode): CompiledNode | undefined {
  if (!isPlainNode(node)) return undefined;
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value': {
      const constant = node.value;
      return () => constant;
    }
    case 'variable':
      return compileVariable(node);
    case 'path':
      return compilePath(node.steps ?? []);
    case 'block':
      return compileBlock(node.expressions ?? []);
    case 'condition':
      return compileCondition(node);
    case 'binary':
      return compileBinary(node);
    case 'unary':
      return compileUnary(node);
    case 'function':
      return compileCall(node);
    default:
      return undefined;
  }
}

function compileVariable(node: AstNode): CompiledNode | undefined {
  if (node.value === '') return (context) => (Array.isArray(context) ? bail() : context);
  if (node.value === '$') return (_context, root) => root;
  return undefined;
}

function compilePath(steps: readonly AstNode[]): CompiledNode | undefined {
  if (steps.length === 0) return undefined;
  const first = steps[0]!;
  let start: CompiledNode | undefined;
  let names = steps;
  if (first.type === 'variable') {
    start = compileVariable(first);
    if (start === undefined || !isPlainNode(first)) return undefined;
    names = steps.slice(1);
  }
  const keys: string[] = [];
  for (const step of names) {
    if (step.type !== 'name' || !isPlainNode(step) || typeof step.value !== 'string') return undefined;
    keys.push(step.value);
  }
  const from = start ?? ((context: unknown) => context);
  return (context, root) => {
    let value = from(context, root);
    for (const key of keys) {
      // JSONata maps a path over every item of a list and flattens the results; such input is
      // left to it. A list at the end of the path is returned as it is, as JSONata does.
      if (Array.isArray(value)) return bail();
      if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, key))
        return undefined;
      value = (value as Record<string, unknown>)[key];
      if (typeof value === 'function') return bail();
    }
    return value;
  };
}

function compileAll(nodes: readonly AstNode[]): CompiledNode[] | undefined {
  const compiled: CompiledNode[] = [];
  for (const node of nodes) {
    const one = compileFast(node);
    if (one === undefined) return undefined;
    compiled.push(one);
  }
  return compiled;
}

function compileBlock(expressions: readonly AstNode[]): CompiledNode | undefined {
  const compiled = compileAll(expressions);
  if (compiled === undefined) return undefined;
  return (context, root) => {
    let result: unknown;
    for (const expression of compiled) result = expression(context, root);
    return result;
  };
}

/** JSONata's effective boolean value (fn.boolean), for plain values. */
export function truthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? false : bail();
    return value !== 0;
  }
  if (Array.isArray(value)) {
    if (value.length === 1) return truthy(value[0]);
    return value.some((item) => truthy(item));
  }
  if (typeof value === 'function') return false;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return false;
}

function compileCondition(node: AstNode): CompiledNode | undefined {
  const condition = node.condition === undefined ? undefined : compileFast(node.condition);
  const then = node.then === undefined ? undefined : compileFast(node.then);
  const otherwise = node.else === undefined ? () => undefined : compileFast(node.else);
  if (condition === undefined || then === undefined || otherwise === undefined) return undefined;
  return (context, root) =>
    truthy(condition(context, root)) ? then(context, root) : otherwise(context, root);
}

type Primitive = string | number | boolean | null;

function isPrimitive(value: unknown): value is Primitive {
  return (
    value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
  );
}

/** A number JSONata's arithmetic takes without an error, or undefined; anything else declines. */
function operand(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return bail();
}

/** JSONata's $string for the values the fast path handles. */
export function jsonataText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return bail();
    return Number.isInteger(value) ? JSON.stringify(value) : JSON.stringify(Number(value.toPrecision(15)));
  }
  if (typeof value === 'boolean' || value === null) return String(value);
  return bail();
}

const arithmetic: Readonly<Record<string, (a: number, b: number) => number>> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

const ordering: Readonly<Record<string, (a: string | number, b: string | number) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function compileBinary(node: AstNode): CompiledNode | undefined {
  const op = node.value;
  const lhsNode = node.lhs;
  if (typeof op !== 'string' || lhsNode === undefined || Array.isArray(lhsNode) || node.rhs === undefined)
    return undefined;
  const lhs = compileFast(lhsNode as AstNode);
  const rhs = compileFast(node.rhs);
  if (lhs === undefined || rhs === undefined) return undefined;
  if (op === 'and') return (context, root) => truthy(lhs(context, root)) && truthy(rhs(context, root));
  if (op === 'or') return (context, root) => truthy(lhs(context, root)) || truthy(rhs(context, root));
  const math = arithmetic[op];
  if (math !== undefined) {
    return (context, root) => {
      const a = operand(lhs(context, root));
      const b = operand(rhs(context, root));
      return a === undefined || b === undefined ? undefined : math(a, b);
    };
  }
  if (op === '=' || op === '!=') {
    const equal = op === '=';
    return (context, root) => {
      const a = lhs(context, root);
      const b = rhs(context, root);
      if (a === undefined || b === undefined) return false;
      if (!isPrimitive(a) || !isPrimitive(b)) return bail();
      return (a === b) === equal;
    };
  }
  const compare = ordering[op];
  if (compare !== undefined) {
    return (context, root) => {
      const a = lhs(context, root);
      const b = rhs(context, root);
      const aType = typeof a;
      const bType = typeof b;
      if (
        (aType !== 'undefined' && aType !== 'string' && aType !== 'number') ||
        (bType !== 'undefined' && bType !== 'string' && bType !== 'number')
      )
        return bail();
      if (a === undefined || b === undefined) return undefined;
      if (aType !== bType) return bail();
      return compare(a as string | number, b as string | number);
    };
  }
  if (op === '&') {
    return (context, root) =>
      (jsonataText(lhs(context, root)) ?? '') + (jsonataText(rhs(context, root)) ?? '');
  }
  return undefined;
}

function compileUnary(node: AstNode): CompiledNode | undefined {
  switch (node.value) {
    case '-': {
      if (node.expression === undefined) return undefined;
      const inner = compileFast(node.expression);
      if (inner === undefined) return undefined;
      return (context, root) => {
        const value = operand(inner(context, root));
        return value === undefined ? undefined : -value;
      };
    }
    case '[':
      return compileArray(node.expressions ?? []);
    case '{':
      return compileObject(node.lhs);
    default:
      return undefined;
  }
}

function compileArray(items: readonly AstNode[]): CompiledNode | undefined {
  const compiled = compileAll(items);
  if (compiled === undefined) return undefined;
  // A nested constructor is kept as one item; any other list value is spliced in (JSONata's append).
  const nested = items.map((item) => item.type === 'unary' && item.value === '[');
  return (context, root) => {
    const out: unknown[] = [];
    for (let index = 0; index < compiled.length; index++) {
      const value = compiled[index]!(context, root);
      if (value === undefined) continue;
      if (!nested[index] && Array.isArray(value)) out.push(...(value as unknown[]));
      else out.push(value);
    }
    return out;
  };
}

function compileObject(pairs: AstNode['lhs']): CompiledNode | undefined {
  if (!Array.isArray(pairs)) return undefined;
  const keys: string[] = [];
  const values: CompiledNode[] = [];
  for (const pair of pairs as readonly (readonly [AstNode, AstNode])[]) {
    const [keyNode, valueNode] = pair;
    // Computed keys group the input in JSONata; only literal, distinct keys are compiled.
    if (keyNode.type !== 'string' || !isPlainNode(keyNode) || typeof keyNode.value !== 'string')
      return undefined;
    if (keys.includes(keyNode.value)) return undefined;
    const value = compileFast(valueNode);
    if (value === undefined) return undefined;
    keys.push(keyNode.value);
    values.push(value);
  }
  return (context, root) => {
    if (Array.isArray(context)) return bail();
    const out: Record<string, unknown> = {};
    for (let index = 0; index < keys.length; index++) {
      const value = values[index]!(context, root);
      if (value !== undefined) out[keys[index]!] = value;
    }
    return out;
  };
}

type Builtin = (args: readonly unknown[]) => unknown;

function textOrAbsent(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : bail();
}

/** JSONata built-ins with their exact behaviour on plain input; anything else declines. */
const builtins: Readonly<Record<string, { arity: readonly number[]; run: Builtin }>> = {
  string: { arity: [1], run: ([value]) => jsonataText(value) },
  lowercase: { arity: [1], run: ([value]) => textOrAbsent(value)?.toLowerCase() },
  uppercase: { arity: [1], run: ([value]) => textOrAbsent(value)?.toUpperCase() },
  trim: {
    arity: [1],
    run: ([value]) => {
      const text = textOrAbsent(value);
      if (text === undefined) return undefined;
      let result = text.replace(/[ \t\n\r]+/gm, ' ');
      if (result.startsWith(' ')) result = result.slice(1);
      if (result.endsWith(' ')) result = result.slice(0, -1);
      return result;
    },
  },
  exists: { arity: [1], run: ([value]) => value !== undefined },
  boolean: { arity: [1], run: ([value]) => (value === undefined ? undefined : truthy(value)) },
  not: { arity: [1], run: ([value]) => (value === undefined ? undefined : !truthy(value)) },
  join: {
    arity: [1, 2],
    run: ([list, separator]) => {
      if (list === undefined) return undefined;
      if (separator !== undefined && typeof separator !== 'string') return bail();
      const items = typeof list === 'string' ? [list] : list;
      if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) return bail();
      return items.join(separator ?? '');
    },
  },
};

export const fastBuiltinNames: readonly string[] = Object.keys(builtins);

function compileCall(node: AstNode): CompiledNode | undefined {
  const procedure = node.procedure;
  if (procedure === undefined || procedure.type !== 'variable' || !isPlainNode(procedure)) return undefined;
  const name = procedure.value;
  if (typeof name !== 'string') return undefined;
  const args = compileAll(node.arguments ?? []);
  if (args === undefined) return undefined;
  const helper = helpersByName.get(name);
  if (helper !== undefined) {
    return (context, root) =>
      helper.call(
        root,
        args.map((arg) => arg(context, root)),
      );
  }
  const builtin = builtins[name];
  if (builtin === undefined || !builtin.arity.includes(args.length)) return undefined;
  return (context, root) => builtin.run(args.map((arg) => arg(context, root)));
}
