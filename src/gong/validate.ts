import type { z } from 'zod';
import { isValidGongBodyFast } from './body-fast-path.ts';
import { gongBodySchema, type GongBody } from './body-schema.ts';

export type { GongBody } from './body-schema.ts';

export type GongValidation = { ok: true; body: GongBody } | { ok: false; errors: string[] };

/**
 * Checks a candidate request body against Gong's contract. Errors read `<path>: <message>` with
 * dotted, indexed paths (`person.company.companyBusinessContexts[0].objectType: ...`) so a
 * dead-lettered record, a sandbox 400 and `check-payload` all say exactly what to fix.
 */
export function validateGongBody(input: unknown): GongValidation {
  // The fast path accepts exactly what the schema accepts (a property test holds them equal); zod
  // only runs for bodies that fail, to name every problem.
  if (isValidGongBodyFast(input)) return { ok: true, body: input as GongBody };
  const result = gongBodySchema.safeParse(input, { error: describeIssue });
  if (result.success) return { ok: true, body: result.data };
  const errors: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push(`${formatPath([...issue.path, key])}: unknown field`);
    } else {
      errors.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return { ok: false, errors };
}

/**
 * `['person', 'company', 'companyBusinessContexts', 0, 'objectType']` →
 * `person.company.companyBusinessContexts[0].objectType`. A key that is not an identifier (only
 * possible for unknown fields) is quoted, `content["a b"]`, so the path stays unambiguous.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      if (issue.input === null) return 'required, got null';
      return `expected ${issue.expected}, got ${kindOf(issue.input)}`;
    }
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item(s)`;
      return undefined;
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
