import { z } from 'zod';

/**
 * The mapping file (MAPPINGS_FILE), YAML or JSON. zod checks its outline here; the body tree is
 * checked against Gong's fields by the compiler (compile.ts), which can say "did you mean".
 * docs/mappings.md explains every key with examples.
 */

const nameRule = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const oneOrMany = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((value) => (typeof value === 'string' ? [value] : value));

export const mappingMatchSchema = z
  .strictObject({
    topics: oneOrMany.optional(),
    records: oneOrMany.optional(),
    subjects: oneOrMany.optional(),
  })
  .refine(
    (match) => match.topics !== undefined || match.records !== undefined || match.subjects !== undefined,
    {
      message: 'must name at least one of topics, records or subjects',
    },
  );

export const mappingSchemaRefSchema = z.union([
  z.string().min(1),
  z.strictObject({
    file: z.string().min(1),
    /** The message of a .proto file; default: the mapping's only record name. */
    message: z.string().min(1).optional(),
  }),
]);

export const mappingDefinitionSchema = z.strictObject({
  name: z
    .string()
    .regex(nameRule, 'must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  description: z.string().optional(),
  match: mappingMatchSchema,
  /** The writer schema, relative to the mapping file: .avsc, .json (JSON Schema) or .proto. */
  schema: mappingSchemaRefSchema.optional(),
  /** One expression building the whole body, or a tree of Gong fields (see compile.ts). */
  body: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
});

export const mappingFileSchema = z.strictObject({
  version: z.literal(1),
  mappings: z.array(mappingDefinitionSchema),
});

export type MappingMatch = z.output<typeof mappingMatchSchema>;
export type MappingSchemaRef = z.output<typeof mappingSchemaRefSchema>;
export type MappingDefinition = z.output<typeof mappingDefinitionSchema>;
export type MappingFile = z.output<typeof mappingFileSchema>;

/** Keys of a body object that are not Gong fields. No Gong field has these names (a test checks). */
export const bodyKeywords = { constant: 'const', condition: 'when' } as const;
