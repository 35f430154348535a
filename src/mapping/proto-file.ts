import protobuf from 'protobufjs';

/**
 * Parses a .proto file the way the registry client does (protobufjs defaults: field names become
 * camelCase, `video_id` → `videoId`), and supplies the well-known types it imports
 * (google/protobuf/timestamp.proto and the others protobufjs ships), which a registry resolves
 * as built-ins rather than as references. `references` are the texts of the other files it
 * imports (the registry's schema references), parsed into the same root first.
 */
export function parseProtoSchema(text: string, references: readonly string[] = []): protobuf.Root {
  const root = new protobuf.Root();
  const imports = new Set<string>();
  for (const source of [...references, text]) {
    for (const name of protobuf.parse(source, root).imports ?? []) imports.add(name);
  }
  for (const name of imports) {
    const common = protobuf.common.get(name);
    if (common?.nested === undefined) continue;
    try {
      root.addJSON(common.nested);
    } catch (error) {
      // The registry handed the well-known file over as a reference of its own: already parsed.
      if (!(error instanceof Error && error.message.startsWith('duplicate name'))) throw error;
    }
  }
  root.resolveAll();
  return root;
}
