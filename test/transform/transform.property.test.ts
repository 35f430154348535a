import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateGongBody } from '../../src/gong/validate.ts';
import { loadSchemaVersions, newestSchema } from '../../src/schemas/registry-files.ts';
import { transformEvent, type InteractionEvent } from '../../src/transform/transform.ts';
import { arbitraryFromAvro } from './avro-arbitrary.ts';

const PATH_ERROR = /^(\(root\)|[A-Za-z_$][\w$]*)(\[\d+\]|\.[A-Za-z_$][\w$]*)*: \S/;

describe.each(loadSchemaVersions().map((version) => [version.file, version] as const))(
  'transformEvent on arbitrary %s events',
  (_file, version) => {
    const newest = newestSchema();
    const resolver = newest.type.createResolver(version.type);
    // Decoding through avsc gives the exact shape the consumer hands over (record instances,
    // numbers for timestamp-millis), which a plain generated object would not.
    const events = arbitraryFromAvro(version.type).map(
      (value) => newest.type.fromBuffer(version.type.toBuffer(value), resolver) as InteractionEvent,
    );

    it('never throws, and every outcome is either a valid body or path-named errors', () => {
      let accepted = 0;
      let rejected = 0;
      fc.assert(
        fc.property(events, (event) => {
          let result: ReturnType<typeof transformEvent> | undefined;
          expect(() => {
            result = transformEvent(event);
          }).not.toThrow();
          if (result!.ok) {
            accepted += 1;
            // What goes on the wire is JSON; it must validate after the round trip too, with the
            // same warnings.
            const wire = JSON.parse(JSON.stringify(result!.body)) as unknown;
            const { warnings, inferredRules } = result!;
            expect(validateGongBody(wire)).toEqual({
              ok: true,
              body: wire,
              ...(warnings === undefined ? {} : { warnings }),
              ...(inferredRules === undefined ? {} : { inferredRules }),
            });
          } else {
            rejected += 1;
            expect(result!.errors.length).toBeGreaterThan(0);
            for (const error of result!.errors) expect(error).toMatch(PATH_ERROR);
          }
          for (const warning of result!.warnings ?? []) expect(warning).toMatch(PATH_ERROR);
        }),
        { numRuns: 1_500 },
      );
      // Both outcomes must actually be exercised for the property to mean anything.
      expect(accepted).toBeGreaterThan(0);
      expect(rejected).toBeGreaterThan(0);
    });

    it('is pure: the same event gives the same result and is not modified', () => {
      fc.assert(
        fc.property(events, (event) => {
          const before = structuredClone(event);
          const first = transformEvent(event);
          expect(transformEvent(event)).toEqual(first);
          expect(event).toEqual(before);
        }),
        { numRuns: 300 },
      );
    });
  },
);
