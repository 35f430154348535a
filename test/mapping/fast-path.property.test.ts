import fc from 'fast-check';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileExpression, NEEDS_INTERPRETER } from '../../src/mapping/expression.ts';

/**
 * The compiled fast path against JSONata itself, the reference: for any expression of the
 * subset and any event, the fast path either declines or returns what JSONata returns, and it
 * never returns a value where JSONata raises an error.
 */

/** JSONata's sequences and prototype-less objects as plain values, for comparison. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
  }
  return value;
}

async function reference(source: string, event: unknown): Promise<{ value: unknown } | { error: unknown }> {
  try {
    return { value: plain(await jsonata(source).evaluate(event)) };
  } catch (error) {
    return { error };
  }
}

async function expectSameAsJsonata(source: string, event: unknown): Promise<'answered' | 'declined'> {
  const fast = compileExpression(source).evaluateFast(event);
  const expected = await reference(source, event);
  if (fast === NEEDS_INTERPRETER) return 'declined';
  expect(
    'value' in expected,
    `${source} answered ${JSON.stringify(fast)} where JSONata raises an error`,
  ).toBe(true);
  if ('value' in expected)
    expect(plain(fast), `${source} on ${JSON.stringify(event)}`).toEqual(expected.value);
  return 'answered';
}

const keys = ['a', 'b', 'c', 'n'] as const;
const scalar = fc.oneof(
  fc.constantFrom('', 'x', 'Hello World', ' padded  text ', 'a'),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0.5, 1e21, -0.1, 0.1 + 0.2),
  fc.boolean(),
  fc.constant(null),
);
const { event } = fc.letrec<{ value: unknown; event: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(scalar, { maxLength: 3 }), tie('event')),
  event: fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 4 }),
}));

const path = fc.oneof(
  fc.array(fc.constantFrom(...keys), { minLength: 1, maxLength: 3 }).map((names) => names.join('.')),
  fc.constantFrom('$$.a', '$.a.b', '$', '$$'),
);
const literal = fc.constantFrom('"s"', "'x'", '1', '2.5', '0', 'true', 'false', 'null');
const { expression } = fc.letrec<{ expression: string }>((tie) => ({
  expression: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    path,
    literal,
    fc
      .tuple(
        tie('expression'),
        fc.constantFrom('=', '!=', '<', '<=', '>', '>=', 'and', 'or', '&', '+', '-', '*', '/', '%'),
        tie('expression'),
      )
      .map(([lhs, op, rhs]) => `(${lhs} ${op} ${rhs})`),
    fc
      .tuple(tie('expression'), tie('expression'), tie('expression'))
      .map(([c, t, e]) => `(${c} ? ${t} : ${e})`),
    fc.tuple(tie('expression'), tie('expression')).map(([c, t]) => `(${c} ? ${t})`),
    fc.array(tie('expression'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.tuple(tie('expression'), tie('expression')).map(([x, y]) => `{"k": ${x}, "l": ${y}}`),
    fc
      .tuple(
        fc.constantFrom('string', 'lowercase', 'uppercase', 'trim', 'exists', 'boolean', 'not', 'join'),
        tie('expression'),
      )
      .map(([name, arg]) => `$${name}(${arg})`),
    tie('expression').map((inner) => `-(${inner})`),
    tie('expression').map((inner) => `(${inner})`),
  ),
}));

describe('the compiled fast path matches JSONata', () => {
  it('on generated expressions and events', async () => {
    await fc.assert(
      fc.asyncProperty(expression, event, async (source, input) => {
        await expectSameAsJsonata(source, input);
      }),
      { numRuns: 400 },
    );
  });

  // Plain input must not decline, or the fast path would only be correct by never answering.
  it.each([
    ['page.title', { page: { title: 'Pricing' } }],
    ['page.tags', { page: { tags: ['one'] } }],
    ['missing.deeper', { page: {} }],
    ['user ? {"id": user.id, "n": 1} : null', { user: { id: 'u' } }],
    ['user ? user.id', { user: null }],
    ["'plan-' & plan & 1.5", { plan: 'team' }],
    ['[a, b, [c], "x"]', { a: ['p', 'q'], b: 'r', c: ['s'] }],
    ['a = "x" and (n > 2 or n <= -1)', { a: 'x', n: 3 }],
    ['n * 100 / total', { n: 3, total: 4 }],
    ['$lowercase(platform) & $string(n)', { platform: 'IOS', n: 0.1 + 0.2 }],
    ['$join(tags, ", ")', { tags: ['a', 'b'] }],
    ['$not(flag) ? "off"', { flag: false }],
    ['$$.a.b', { a: { b: 1 } }],
  ])('answers %s without the interpreter', async (source, input) => {
    expect(compileExpression(source).compiled).toBe(true);
    expect(await expectSameAsJsonata(source, input)).toBe('answered');
  });

  it.each([
    ['a.b over a list (JSONata maps and flattens)', 'a.b', { a: [{ b: 1 }, { b: 2 }] }],
    ['arithmetic on text (T2001)', 'a + 1', { a: 'x' }],
    ['comparing text with a number (T2009)', 'a < 1', { a: 'x' }],
    ['$lowercase of a number (T0410)', '$lowercase(n)', { n: 1 }],
    ['equality of objects (deep)', 'a = b', { a: { x: 1 }, b: { x: 1 } }],
  ])('declines %s', async (_label, source, input) => {
    expect(await expectSameAsJsonata(source, input)).toBe('declined');
  });

  it.each([
    'items[0]',
    'items.{"n": name}',
    '$map(items, function($i) { $i.name })',
    '$substring(a, 1)',
    'a ~> $uppercase',
    '$x := 1',
  ])('leaves %s to the interpreter', (source) => {
    expect(compileExpression(source).compiled).toBe(false);
  });
});
