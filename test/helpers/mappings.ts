import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir, type WorkedExample } from '../mapping/worked-examples.ts';

/**
 * The worked examples' mapping file and schemas in a directory of their own, with each example's
 * topic renamed to a fresh one (the file names web.page-views and friends).
 */
export function mappingDirectory(
  topics: ReadonlyMap<WorkedExample, string>,
  edit = (text: string) => text,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'gong-bridge-mappings-'));
  let text = readFileSync(join(fixturesDir, 'mappings.yaml'), 'utf8');
  for (const [example, topic] of topics) {
    text = text.replace(`topics: ${example.topic}\n`, `topics: ${topic}\n`);
    copyFileSync(join(fixturesDir, example.schemaFile), join(dir, example.schemaFile));
  }
  writeFileSync(join(dir, 'mappings.yaml'), edit(text));
  return dir;
}
