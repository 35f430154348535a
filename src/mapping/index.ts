/**
 * Mappings from upstream events to Gong's body (MAPPINGS_FILE; docs/mappings.md). The wiring
 * loads the file once (`loadMappings`), picks a mapping per record (`selectMapping`) and applies
 * it (`applyMapping`); decoders describe their writer schemas as `KnownFields`.
 */
export {
  applyMapping,
  buildBody,
  interpreterOnly,
  type BuiltBody,
  type CompiledMapping,
  type MappingResult,
} from './apply.ts';
export {
  canonicalRecordName,
  compileMappings,
  loadMappings,
  selectMapping,
  type LoadMappingsOptions,
  type MappingSet,
  type WriterIdentity,
} from './load.ts';
export type { MappingDefinition, MappingFile } from './file-schema.ts';
export {
  fromAvro,
  fromJsonSchema,
  fromProtobuf,
  type KnownFields,
  type KnownType,
  type ProtobufFieldShape,
  type ProtobufMessageShape,
} from './known-fields.ts';
export { mappingHelpers, type MappingHelper } from './helpers.ts';
