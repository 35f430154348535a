import protobuf from 'protobufjs';

/**
 * Parses a .proto file the way the registry client does (protobufjs defaults: field names become
 * camelCase, `video_id` → `videoId`), and supplies the well-known types it imports
 * (google/protobuf/timestamp.proto and the others protobufjs ships), which a registry resolves
 * as built-ins rather than as references.
 */
export function parseProtoSchema(text: string): protobuf.Root {
  const root = new protobuf.Root();
  const parsed = protobuf.parse(text, root);
  for (const name of parsed.imports ?? []) {
    const common = protobuf.common.get(name);
    if (common?.nested !== undefined) root.addJSON(common.nested);
  }
  root.resolveAll();
  return root;
}
