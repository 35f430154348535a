import type { Schema } from 'avsc';
import { flattenSchema } from './event-schema.ts';
import { generatedBanner, mdCell, type Rendered } from './markdown.ts';

/** docs/reference/receipt-schema.md: the receipt record of KAFKA_RECEIPTS_TOPIC, field by field. */
export function renderReceiptSchema(schema: Schema, file: string): Rendered {
  const fields = flattenSchema(schema);
  const problems = fields
    .filter((field) => field.doc === undefined)
    .map((field) => `schemas/${file}: field ${field.path} has no doc`);
  const record = schema as unknown as { name: string; namespace?: string; doc?: string };
  const lines = [
    generatedBanner(`schemas/${file}`),
    '# Receipt schema reference',
    '',
    `Record \`${record.namespace === undefined ? '' : `${record.namespace}.`}${record.name}\` (\`schemas/${file}\`).`,
    record.doc ?? '',
    '',
    'The bridge registers it under the subject `<receipts topic>-value` at start-up and writes each',
    'receipt in the Confluent wire format (magic byte, 4-byte schema id, Avro binary), so the',
    "registry's deserializers read it. The record key is the eventId as a plain UTF-8 string, or",
    '`<topic>/<partition>/<offset>` of the source record when there is no eventId. How to read',
    'them: [producing events](../producing-events.md#5-did-it-reach-gong-receipts).',
    '',
    '| Field | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...fields.map(
      (field) =>
        `| \`${field.path}\` | ${mdCell(field.type)} | ${field.defaultValue === undefined ? 'required' : `\`${field.defaultValue}\``} | ${mdCell(field.doc ?? '')} |`,
    ),
    '',
  ];
  return { content: lines.join('\n'), problems };
}
