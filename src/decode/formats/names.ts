/**
 * The input formats by name, as INPUT_FORMATS spells them. Kept apart from the formats themselves
 * so the settings can validate the names without loading any decoder; index.ts maps each name to
 * its format, and the type checker holds the two lists together.
 */
export const inputFormatNames = ['avro', 'json-schema', 'protobuf', 'json'] as const;

export type InputFormatName = (typeof inputFormatNames)[number];

/** Records of a topic INPUT_FORMATS does not name are read as this: the canonical path. */
export const defaultInputFormat: InputFormatName = 'avro';
