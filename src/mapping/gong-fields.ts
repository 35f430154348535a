import type { z } from 'zod';
import { gongBodySchema } from '../gong/body-schema.ts';

/**
 * The shape of Gong's body as a tree, read from the zod model (src/gong/body-schema.ts) rather
 * than kept by hand, so a new Gong field is mappable as soon as the model has it. Mappings use it
 * to reject a misspelt body field at start-up, to know which fields are required, and to tidy what
 * an expression produced (see shape.ts) before the validator sees it.
 */
export type GongField =
  | { readonly kind: 'object'; readonly required: boolean; readonly fields: ReadonlyMap<string, GongField> }
  | { readonly kind: 'list'; readonly required: boolean; readonly item: GongField }
  | { readonly kind: 'text'; readonly required: boolean }
  | { readonly kind: 'integer'; readonly required: boolean }
  | { readonly kind: 'enum'; readonly required: boolean; readonly values: readonly string[] };

interface ZodDef {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly entries?: Record<string, string>;
}

function defOf(schema: z.ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

function fromZod(schema: z.ZodType, required: boolean): GongField {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
      return fromZod(def.innerType!, false);
    case 'object': {
      const fields = new Map<string, GongField>();
      for (const [name, child] of Object.entries(def.shape ?? {})) fields.set(name, fromZod(child, true));
      return { kind: 'object', required, fields };
    }
    case 'array':
      return { kind: 'list', required, item: fromZod(def.element!, true) };
    case 'string':
      return { kind: 'text', required };
    case 'number':
      return { kind: 'integer', required };
    case 'enum':
      return { kind: 'enum', required, values: Object.values(def.entries ?? {}) };
    default:
      // A zod type the body model did not use when this was written: fail loudly in every test
      // rather than silently treating the field as unknown.
      throw new Error(`gong-fields: unsupported zod type ${def.type} in the Gong body model`);
  }
}

export const gongBody = fromZod(gongBodySchema, true) as Extract<GongField, { kind: 'object' }>;

/** `content.contentTitle` → its field, or undefined when Gong has no such field. */
export function gongFieldAt(path: readonly string[]): GongField | undefined {
  let field: GongField = gongBody;
  for (const segment of path) {
    const container: GongField = field.kind === 'list' ? field.item : field;
    if (container.kind !== 'object') return undefined;
    const next = container.fields.get(segment);
    if (next === undefined) return undefined;
    field = next;
  }
  return field;
}
