import fc from 'fast-check';
import type avro from 'avsc';

interface TypeShape {
  readonly typeName: string;
  readonly fields?: readonly { name: string; type: avro.Type }[];
  readonly types?: readonly avro.Type[];
  readonly itemsType?: avro.Type;
  readonly valuesType?: avro.Type;
  readonly symbols?: readonly string[];
  readonly underlyingType?: avro.Type;
}

// Strings that hit the interesting branches: blank, custom-field formats, step names.
const interestingStrings = fc.constantFrom(
  '',
  ' ',
  'x',
  'acme.com',
  '12',
  'true',
  '2025-01-31',
  'https://x.io',
  'Module 1',
);

/**
 * A fast-check arbitrary of values valid for an avsc type, built by walking the schema, so a new
 * field in the next schema version is exercised by the property tests without touching them.
 */
export function arbitraryFromAvro(type: avro.Type): fc.Arbitrary<unknown> {
  const shape = type as unknown as TypeShape;
  if (shape.underlyingType !== undefined) return arbitraryFromAvro(shape.underlyingType);
  switch (shape.typeName) {
    case 'record':
    case 'error': {
      const fields: Record<string, fc.Arbitrary<unknown>> = {};
      for (const field of shape.fields ?? []) fields[field.name] = arbitraryFromAvro(field.type);
      return fc.record(fields);
    }
    case 'union:unwrapped':
    case 'union:wrapped':
      return fc.oneof(...(shape.types ?? []).map((branch) => arbitraryFromAvro(branch)));
    case 'array':
      return fc.array(arbitraryFromAvro(shape.itemsType!), { maxLength: 3 });
    case 'map':
      return fc.dictionary(fc.string({ maxLength: 4 }), arbitraryFromAvro(shape.valuesType!), { maxKeys: 3 });
    case 'enum':
      return fc.constantFrom(...(shape.symbols ?? []));
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer());
    case 'long':
      // Mostly plausible epoch milliseconds, sometimes far outside what ISO 8601 can print.
      return fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 4_102_444_800_000 }), weight: 8 },
        // avsc refuses longs beyond +-2^53 - 1 at the very edge, so stay a little inside.
        { arbitrary: fc.maxSafeInteger().map((value) => Math.trunc(value / 2)), weight: 1 },
      );
    case 'float':
    case 'double':
      return fc.double({ noNaN: true });
    case 'string':
      return fc.oneof(interestingStrings, fc.string({ maxLength: 8 }));
    case 'bytes':
      return fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes));
    default:
      throw new Error(`arbitraryFromAvro: unsupported Avro type ${shape.typeName}`);
  }
}
