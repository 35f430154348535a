import type { AstNode } from './fast-path.ts';
import { childOf, fieldNamesOf, itemsOf, type KnownFields, type KnownType } from './known-fields.ts';

/**
 * Finds the field references of an expression that the writer schema rules out, before any record
 * arrives. Only what can be resolved for certain is checked: paths from the event (`page.url`,
 * `$$.page.url`), paths inside object constructors and filters over such paths, and the field
 * names given to `$eventId`. Anything whose context the checker cannot know (inside a lambda,
 * after a function call, through a variable) is left alone, so a check never refuses a mapping
 * that works.
 */
export interface FieldProblem {
  /** The field as written, dotted from where the path starts (`page.titel`). */
  readonly field: string;
  /** Character in the expression JSONata's parser points at (1-based end of the name). */
  readonly position: number | undefined;
  readonly message: string;
}

interface Context {
  readonly type: KnownType | undefined;
  /** How the context is reached, for messages: '' at the event, `items` inside `items.{...}`. */
  readonly path: string;
}

export function checkFieldReferences(ast: AstNode, known: KnownFields): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const root: Context = { type: known.root, path: '' };
  walk(ast, root, root, known, problems);
  return problems;
}

const unknownContext: Context = { type: undefined, path: '' };

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function walk(
  node: AstNode | undefined,
  context: Context,
  root: Context,
  known: KnownFields,
  problems: FieldProblem[],
): void {
  if (node === undefined || node === null || typeof node !== 'object') return;
  switch (node.type) {
    case 'path':
      walkPath(node, context, root, known, problems);
      return;
    case 'function':
    case 'partial':
      checkEventIdArguments(node, known, problems);
      for (const argument of node.arguments ?? []) walk(argument, context, root, known, problems);
      walk(node.procedure, unknownContext, root, known, problems);
      return;
    case 'lambda':
    case 'transform':
      // Names inside a lambda are read from whatever it is applied to, and a transform's from
      // each object its pattern matched.
      walk(node.body as AstNode | undefined, unknownContext, root, known, problems);
      return;
    case 'unary':
      if (node.value === '{') {
        for (const [key, value] of (node.lhs ?? []) as readonly (readonly [AstNode, AstNode])[]) {
          walk(key, context, root, known, problems);
          walk(value, context, root, known, problems);
        }
        return;
      }
      walkChildren(node, context, root, known, problems);
      return;
    default:
      walkChildren(node, context, root, known, problems);
  }
}

/** Every nested node, in the same context; `predicate`/`stages`/`group` are handled by walkPath. */
function walkChildren(
  node: AstNode,
  context: Context,
  root: Context,
  known: KnownFields,
  problems: FieldProblem[],
): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === 'position' || key === 'value' || key === 'type') continue;
    const inner = key === 'predicate' || key === 'stages' || key === 'group' ? unknownContext : context;
    for (const child of Array.isArray(value) ? value.flat() : [value]) {
      if (typeof child === 'object' && child !== null && typeof (child as AstNode).type === 'string')
        walk(child as AstNode, inner, root, known, problems);
      else if (typeof child === 'object' && child !== null && 'expr' in child)
        walk((child as { expr: AstNode }).expr, inner, root, known, problems);
    }
  }
}

function walkPath(
  node: AstNode,
  context: Context,
  root: Context,
  known: KnownFields,
  problems: FieldProblem[],
): void {
  const steps = node.steps ?? [];
  let current: Context = context;
  let index = 0;
  const first = steps[0];
  if (first?.type === 'variable') {
    current = first.value === '' ? context : first.value === '$' ? root : unknownContext;
    index = 1;
  }
  for (; index < steps.length; index++) {
    const step = steps[index]!;
    // Focus and index bindings (`@$x`, `#$i`) keep the context where it was: too subtle to follow.
    if ('focus' in step || 'index' in step || 'tuple' in step || 'ancestor' in step) current = unknownContext;
    if (step.type === 'name' && typeof step.value === 'string') {
      if (current.type !== undefined) {
        const child = childOf(current.type, step.value);
        if (child === undefined) {
          problems.push(unknownField(current, step.value, step.position, known));
          current = unknownContext;
        } else {
          current = { type: child, path: join(current.path, step.value) };
        }
      }
    } else {
      // An expression step (`items.{...}`, `items.(a & b)`) runs once per item of the list so far.
      walk(step, elementOf(current), root, known, problems);
      current = unknownContext;
    }
    for (const filter of [
      ...((step.stages as readonly { expr?: AstNode }[] | undefined) ?? []),
      ...((step.predicate as readonly { expr?: AstNode }[] | undefined) ?? []),
    ]) {
      walk(filter.expr, elementOf(current), root, known, problems);
    }
  }
}

function elementOf(context: Context): Context {
  return context.type === undefined ? unknownContext : { type: itemsOf(context.type), path: context.path };
}

function unknownField(
  context: Context,
  name: string,
  position: number | undefined,
  known: KnownFields,
): FieldProblem {
  const field = join(context.path, name);
  const siblings = context.type === undefined ? [] : fieldNamesOf(context.type);
  const near = closest(name, siblings);
  const where = context.path === '' ? 'the event' : context.path;
  let message = `field ${field} does not exist in ${known.source}`;
  if (near !== undefined) message += `; did you mean ${join(context.path, near)}?`;
  else if (siblings.length > 0 && siblings.length <= 12) message += ` (${where} has ${siblings.join(', ')})`;
  else if (siblings.length === 0 && context.type?.kind === 'scalar')
    message += ` (${where} is a ${context.type.type}, not a record)`;
  return { field, position, message };
}

function checkEventIdArguments(node: AstNode, known: KnownFields, problems: FieldProblem[]): void {
  const procedure = node.procedure;
  if (procedure?.type !== 'variable' || procedure.value !== 'eventId') return;
  const names = node.arguments?.[0];
  if (names === undefined) return;
  const literals =
    names.type === 'string'
      ? [names]
      : names.type === 'unary' && names.value === '['
        ? (names.expressions ?? [])
        : [];
  for (const literal of literals) {
    if (literal.type !== 'string' || typeof literal.value !== 'string') continue;
    let current: Context = { type: known.root, path: '' };
    for (const segment of literal.value.split('.')) {
      if (current.type === undefined) break;
      const child = childOf(current.type, segment);
      if (child === undefined) {
        problems.push(unknownField(current, segment, literal.position, known));
        break;
      }
      current = { type: child, path: join(current.path, segment) };
    }
  }
}

/** A sibling name the author probably meant: same letters ignoring case and `_`, or one or two edits away. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const squash = (text: string) => text.toLowerCase().replaceAll('_', '');
  const exact = candidates.find((candidate) => squash(candidate) === squash(name));
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(name.length / 3));
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= bestDistance) {
      best = candidate;
      bestDistance = distance - 1;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one edit ("titel" → "title"). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, index) => index)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let distance = Math.min(
        rows[i - 1]![j]! + 1,
        row[j - 1]! + 1,
        rows[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        distance = Math.min(distance, rows[i - 2]![j - 2]! + 1);
      row[j] = distance;
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
