import { avroFormat } from './avro.ts';
import { jsonFormat, jsonSchemaFormat } from './json.ts';
import type { InputFormatName } from './names.ts';
import { protobufFormat } from './protobuf.ts';
import type { InputFormat } from './types.ts';

/** Every input format INPUT_FORMATS can name. A new format is a file here and a line below. */
export const inputFormats: Readonly<Record<InputFormatName, InputFormat>> = {
  avro: avroFormat,
  'json-schema': jsonSchemaFormat,
  protobuf: protobufFormat,
  json: jsonFormat,
};

export { defaultInputFormat, inputFormatNames, type InputFormatName } from './names.ts';
export type { DecodedEvent, DecodeOutcome, InputFormat, Writer } from './types.ts';
