import jsonata from 'jsonata';
import { compileFast, NEEDS_INTERPRETER, type AstNode, type CompiledNode } from './fast-path.ts';
import { mappingHelpers } from './helpers.ts';

/**
 * One JSONata expression of a mapping, compiled once at start-up: to closures when it stays
 * within the fast path's subset (fast-path.ts), and always to a JSONata expression as well, which
 * answers whenever the closures decline.
 */
export interface CompiledExpression {
  readonly source: string;
  readonly ast: AstNode;
  /** True when every node compiled; such an expression only reaches JSONata for unusual input. */
  readonly compiled: boolean;
  /** The value, or NEEDS_INTERPRETER when JSONata must answer (use `interpret`). Throws what the expression throws. */
  evaluateFast(event: unknown): unknown;
  interpret(event: unknown): Promise<unknown>;
}

/** A parse error, with JSONata's code and the character it points at (1-based). */
export class ExpressionSyntaxError extends Error {
  readonly code: string | undefined;
  readonly position: number | undefined;
  constructor(message: string, code: string | undefined, position: number | undefined) {
    super(message);
    this.name = 'ExpressionSyntaxError';
    this.code = code;
    this.position = position;
  }
}

/**
 * Limits for the interpreter, so one record cannot hold the event loop: a recursive lambda or a
 * huge range in a mapping becomes a MAPPING_FAILED for that record instead of a stalled consumer.
 */
const interpreterOptions = { timeout: 1_000, stack: 500 } as const;

export function compileExpression(source: string): CompiledExpression {
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, interpreterOptions);
  } catch (error) {
    const { code, position, message } = error as { code?: string; position?: number; message?: string };
    throw new ExpressionSyntaxError(message ?? String(error), code, position);
  }
  for (const helper of mappingHelpers) {
    expression.registerFunction(helper.name, function (this: jsonata.Focus, ...args: unknown[]) {
      // `$` in the environment is the input document, the same root the fast path passes.
      return helper.call(this.environment.lookup('$'), args);
    });
  }
  const ast = expression.ast() as unknown as AstNode;
  const fast: CompiledNode | undefined = compileFast(ast);
  return {
    source,
    ast,
    compiled: fast !== undefined,
    evaluateFast(event) {
      if (fast === undefined || Array.isArray(event)) return NEEDS_INTERPRETER;
      try {
        return fast(event, event);
      } catch (error) {
        if (error === NEEDS_INTERPRETER) return NEEDS_INTERPRETER;
        throw error;
      }
    },
    async interpret(event) {
      return plain(await expression.evaluate(event));
    },
  };
}

export { NEEDS_INTERPRETER } from './fast-path.ts';

/**
 * JSONata marks its result lists as sequences (extra properties) and builds objects without a
 * prototype; copy both into ordinary values so the two paths hand over the same kind of thing.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = plain(item);
    return out;
  }
  return value;
}

/** A JSONata evaluation error or a helper's error, as one line. */
export function describeEvaluationError(error: unknown): string {
  if (
    error instanceof Error &&
    !('code' in error && typeof error.code === 'string' && /^[A-Z]\d{4}$/.test(error.code))
  )
    return error.message;
  const { code, position, message } = error as { code?: string; position?: number; message?: string };
  const where = position === undefined ? '' : ` at character ${position}`;
  return `${message ?? String(error)}${code === undefined ? '' : ` (JSONata ${code}${where})`}`;
}
