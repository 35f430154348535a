import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { skipUnless } from '../helpers/requirements.ts';

/**
 * `npm ci` prints `npm warn install-scripts` for every dependency whose install script is neither
 * approved nor denied in package.json's allowScripts (npm 11's policy). Ours are all denied
 * (docs/dependencies.md says why), so the install is quiet; a new dependency with a script fails
 * here until someone has looked at it.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const listed = spawnSync('npm', ['install-scripts', 'ls', '--json'], { cwd: root, encoding: 'utf8' });
const supported = listed.status === 0 && listed.stdout.trim().startsWith('{');

describe('install scripts', () => {
  it(
    'every dependency with one is approved or denied in allowScripts',
    skipUnless(
      supported,
      `this npm (${spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim()}) has no install-scripts policy; npm 11.19+ has`,
    ),
    () => {
      const pending = (JSON.parse(listed.stdout) as { allowScripts: unknown[] }).allowScripts;
      expect(pending, 'review each, then npm deny-scripts <pkg> or npm approve-scripts <pkg>').toEqual([]);
    },
  );
});
