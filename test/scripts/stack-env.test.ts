import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { unknownVariableWarnings } from '../../src/config/warnings.ts';

/**
 * The README tells people to `set -a; . .stack/env` before running the bridge by hand, and
 * `make demo` exports the same file's settings: none of its variables may make the bridge warn
 * about an unknown setting (KAFKA_PROXIED_BROKERS, the test harness's Toxiproxy address, did).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stackDir = mkdtempSync(join(tmpdir(), 'gong-bridge-stack-env-'));
afterAll(() => rmSync(stackDir, { recursive: true, force: true }));

describe('the local stack env file', () => {
  it('names nothing the bridge would warn about', async () => {
    const { stdout } = await promisify(execFile)('bash', [join(root, 'scripts/stack/stack.sh'), 'env'], {
      env: { PATH: process.env.PATH ?? '', STACK_DIR: stackDir },
    });
    const env = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(Object.keys(env)).toContain('KAFKA_PROXIED_BROKERS');
    expect(unknownVariableWarnings(env)).toEqual([]);
  });
});
