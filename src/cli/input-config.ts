import type { Settings } from '../config/settings.ts';
import { inputFormats, defaultInputFormat } from '../decode/formats/index.ts';
import { loadInputs, type Inputs } from '../decode/inputs.ts';
import { createRecordPreparer, type RecordPreparer } from '../decode/prepare.ts';
import { createRegistryLookup, type RegistryLookup, type RegistryLookupOptions } from '../decode/registry.ts';
import type { GongBodyValidator } from '../gong/validate.ts';
import { registryClientOptions } from '../kafka/connection.ts';

/**
 * The input side of the pipeline from the settings, for `run` and `replay-dlq`: the registry
 * lookup, each topic's format (INPUT_FORMATS), the mappings (MAPPINGS_FILE, checked against the
 * registry's newest schemas of the mapped subjects) and the preparer built from them.
 */

/** The registry settings as the lookup takes them; undefined when SCHEMA_REGISTRY_URL is not set. */
export function registryLookupOptions(config: Settings): RegistryLookupOptions | undefined {
  if (config.SCHEMA_REGISTRY_URL === undefined) return undefined;
  const registry = registryClientOptions(config);
  return {
    url: registry.host,
    username: registry.auth?.username,
    password: registry.auth?.password,
    unknownIdRetryMs: config.SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_MS,
  };
}

export interface InputPipeline {
  readonly inputs: Inputs;
  readonly preparer: RecordPreparer;
}

export interface InputPipelineOptions {
  readonly topics: readonly string[];
  /** The lookup the preparer decodes with (its halts pause the runtime); undefined without a registry. */
  readonly registry: RegistryLookup | undefined;
  /** The configured validator, the engine's. */
  readonly validate: GongBodyValidator;
  readonly onWarning?: (message: string) => void;
}

/**
 * Loads the inputs and builds the preparer. Rejects with CONFIG_INVALID (exit 3) for a mapping
 * file or INPUT_FORMATS that cannot work; a registry that cannot be reached only costs the field
 * check against its schemas (onWarning says so).
 */
export async function createInputPipeline(
  config: Settings,
  options: InputPipelineOptions,
): Promise<InputPipeline> {
  const { registry } = options;
  const inputs = await loadInputs({
    topics: options.topics,
    formats: config.INPUT_FORMATS,
    mappingsFile: config.MAPPINGS_FILE,
    registry,
    onWarning: options.onWarning,
  });
  const preparer = createRecordPreparer({
    formats: inputs.formats,
    defaultFormat: inputFormats[defaultInputFormat],
    registry,
    mappings: inputs.mappings,
    validate: options.validate,
    maxRecordBytes: config.MAX_RECORD_BYTES,
  });
  return { inputs, preparer };
}

/** The lookup for the settings, or undefined when SCHEMA_REGISTRY_URL is not set. */
export function createRegistryFromConfig(config: Settings): RegistryLookup | undefined {
  const options = registryLookupOptions(config);
  return options === undefined ? undefined : createRegistryLookup(options);
}
