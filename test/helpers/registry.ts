/**
 * Registers a schema through the Confluent-compatible API directly: any schema type, references,
 * and content the client libraries would refuse. Resolves with the id the registry gave it.
 */
export async function registerSchema(
  registryUrl: string,
  subject: string,
  schema: {
    readonly schemaType: 'AVRO' | 'JSON' | 'PROTOBUF';
    readonly schema: string;
    readonly references?: readonly { name: string; subject: string; version: number }[];
  },
): Promise<number> {
  const response = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify(schema),
  });
  const body = (await response.json()) as { id?: number; message?: string };
  if (body.id === undefined)
    throw new Error(`registering ${schema.schemaType} under ${subject} failed: ${body.message}`);
  return body.id;
}
