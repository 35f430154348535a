import { describe, expect, inject, it } from 'vitest';
import { registerSchema } from '../helpers/registry.ts';
import { loadWorkedExamples } from '../mapping/worked-examples.ts';
import { runCli } from './run-cli.ts';

/** `transform --registry` against the real registry: the writer schema of the topic's subject. */
describe('gong-bridge transform --mapping --registry', () => {
  const registryUrl = inject('services').schemaRegistryUrl;
  const fixtures = 'test/fixtures/mappings';

  it.each(loadWorkedExamples())(
    'reads the $mapping samples with the newest schema of <topic>-value and shows their bodies',
    async (example) => {
      await registerSchema(registryUrl, `${example.topic}-value`, {
        schemaType: example.schemaType,
        schema: example.schemaText,
      });
      const run = await runCli(
        ['transform', '--mapping', `${fixtures}/mappings.yaml`, '--topic', example.topic, '--registry'],
        example.lines.join('\n'),
        { SCHEMA_REGISTRY_URL: registryUrl },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.lines.map((line) => line.body)).toEqual(example.bodies);
    },
  );

  it('exits 2 when the registry has no subject for the topic', async () => {
    const run = await runCli(
      [
        'transform',
        '--mapping',
        `${fixtures}/mappings.yaml`,
        '--topic',
        'web.page-views-nowhere',
        '--registry',
      ],
      '{}',
      { SCHEMA_REGISTRY_URL: registryUrl },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the registry has none of the subjects web.page-views-nowhere-value');
  });
});
