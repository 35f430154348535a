import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { BridgeError } from '../errors.ts';

/**
 * Registers an Avro schema under `subject` (registering the same schema again returns its id),
 * with the registry's refusals in words a user can act on:
 *  - 401/403: REGISTRY_AUTH_FAILED, naming the credentials' settings;
 *  - 409/422: CONFIG_INVALID, the subject holds schemas this one is not compatible with (someone
 *    else registered under the name, or the subject's compatibility rule refuses it);
 *  - anything else (refused connection, timeout, 5xx): REGISTRY_UNAVAILABLE.
 */
export async function registerAvroSchema(
  registry: Pick<SchemaRegistry, 'register'>,
  subject: string,
  schema: avro.Schema,
): Promise<number> {
  try {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    return id;
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    const detail = error instanceof Error ? error.message : String(error);
    if (status === 401 || status === 403) {
      throw new BridgeError(
        'REGISTRY_AUTH_FAILED',
        `the schema registry refused the credentials (${status}) registering subject ${subject}: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`,
        { cause: error, context: { status, variable: 'SCHEMA_REGISTRY_PASSWORD' } },
      );
    }
    if (status === 409 || status === 422) {
      throw new BridgeError(
        'CONFIG_INVALID',
        `the schema registry refused the schema for subject ${subject} as incompatible with the schemas it holds (${status}): ${detail}`,
        { cause: error, context: { status } },
      );
    }
    // Without this a refused or unreachable registry surfaced as a Kafka problem to the user.
    throw new BridgeError(
      'REGISTRY_UNAVAILABLE',
      `the schema registry did not register subject ${subject}: ${detail}`,
      {
        cause: error,
      },
    );
  }
}
