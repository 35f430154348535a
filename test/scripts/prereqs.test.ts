import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * scripts/prereqs.sh's decisions on a machine that lacks tools, without touching this machine:
 * each case runs the real script with a PATH of its own, made of links to every program on the
 * real PATH minus the ones the case hides. `apt-get` and `id` in that PATH are stand-ins: apt-get
 * records its arguments and "installs" a package by linking its hidden programs back, and id
 * answers root or not. (Other engineers use redis-server and promtool on this machine, so nothing
 * is really removed or installed.)
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'prereqs.sh');
const work = mkdtempSync(join(tmpdir(), 'gong-bridge-prereqs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Which programs each Debian package the script may ask for provides, for the apt-get stand-in. */
const packagePrograms: Record<string, string[]> = {
  'redis-server': ['redis-server'],
  'redis-tools': ['redis-cli'],
  prometheus: ['prometheus', 'promtool'],
  tmux: ['tmux'],
  jq: ['jq'],
};

function realPrograms(): Map<string, string> {
  const found = new Map<string, string>();
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (found.has(name)) continue;
      try {
        if (statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0) found.set(name, path);
      } catch {
        // a dangling link
      }
    }
  }
  return found;
}
const programs = realPrograms();

interface Machine {
  /** Programs absent from PATH. */
  readonly hide?: readonly string[];
  readonly root?: boolean;
  readonly aptGet?: boolean;
  /** Replace java with one that reports this version line. */
  readonly javaVersion?: string;
  /** Packages whose programs apt-get "installs" into a directory that is not on PATH. */
  readonly installsOffPath?: readonly string[];
}

interface Outcome {
  readonly code: number | null;
  readonly stderr: string;
  /** Every apt-get invocation's arguments. */
  readonly aptCalls: string[];
}

let machines = 0;

async function prereqs(args: string[], machine: Machine = {}): Promise<Outcome> {
  const dir = join(work, `machine-${(machines += 1)}`);
  const bin = join(dir, 'bin');
  const hidden = join(dir, 'hidden');
  mkdirSync(bin, { recursive: true });
  mkdirSync(hidden, { recursive: true });
  const hide = new Set(machine.hide ?? []);
  for (const [name, path] of programs) {
    if (['apt-get', 'id', 'sudo'].includes(name)) continue;
    if (name === 'java' && machine.javaVersion !== undefined) continue;
    symlinkSync(path, join(hide.has(name) ? hidden : bin, name));
  }
  const write = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  write('id', `[ "$1" = -u ] && echo ${machine.root === false ? 1000 : 0}`);
  if (machine.javaVersion !== undefined) write('java', `echo '${machine.javaVersion}' >&2`);
  if (machine.aptGet !== false) {
    const offPath = new Set(machine.installsOffPath ?? []);
    const cases = Object.entries(packagePrograms)
      .map(
        ([pkg, names]) =>
          `    ${pkg}) for p in ${names.join(' ')}; do [ -e "${hidden}/$p" ] && ln -sf "${hidden}/$p" "${offPath.has(pkg) ? hidden : bin}/$p"; done ;;`,
      )
      .join('\n');
    write(
      'apt-get',
      `echo "$*" >> "${dir}/apt-calls"
[ "$1" = install ] || exit 0
for pkg in "$@"; do
  case "$pkg" in
${cases}
  esac
done
exit 0`,
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', [script, ...args], {
      cwd: root,
      env: { PATH: bin, HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const calls = join(dir, 'apt-calls');
      const aptCalls = existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [];
      resolve({ code, stderr, aptCalls });
    });
  });
}

describe('scripts/prereqs.sh', () => {
  it('as root, installs what the demo lacks with apt-get and goes on', async () => {
    const run = await prereqs(['demo'], { hide: ['redis-server', 'redis-cli'] });
    expect(run.code, run.stderr).toBe(0);
    expect(run.aptCalls).toEqual([
      'update -qq',
      'install -y -qq --no-install-recommends redis-server redis-tools',
    ]);
    expect(run.stderr).toContain("redis-server  (Debian: redis-server)     the local stack's Redis");
    expect(run.stderr).toMatch(/make demo: everything it needs is here \(java \d+, node v\d+/);
  });

  it('not as root, stops at once with the exact command and installs nothing', async () => {
    const run = await prereqs(['test'], {
      hide: ['redis-server', 'redis-cli', 'prometheus', 'promtool'],
      root: false,
    });
    expect(run.code).toBe(1);
    expect(run.aptCalls).toEqual([]);
    expect(run.stderr).toContain(
      'prereqs: run this, then rerun: apt-get install -y --no-install-recommends prometheus redis-server redis-tools\n',
    );
    for (const line of [
      'promtool      (Debian: prometheus)       alert rule tests',
      'prometheus    (Debian: prometheus)       the Prometheus end-to-end test',
    ])
      expect(run.stderr).toContain(line);
  });

  it('--check reports what it would install and changes nothing, even as root', async () => {
    const run = await prereqs(['test', '--check'], { hide: ['promtool', 'prometheus', 'tmux'] });
    expect(run.code).toBe(1);
    expect(run.aptCalls).toEqual([]);
    expect(run.stderr).toContain(
      'prereqs: would run: apt-get install -y --no-install-recommends prometheus tmux\n',
    );
  });

  it('a machine with everything passes without calling apt-get', async () => {
    const run = await prereqs(['demo']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.aptCalls).toEqual([]);
  });

  it('a Java older than 17 counts as missing', async () => {
    const run = await prereqs(['demo', '--check'], { javaVersion: 'openjdk version "11.0.24" 2024-07-16' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'java          (Debian: openjdk-17-jdk-headless) Java 11 is on PATH, Kafka 4 needs 17+',
    );
  });

  it('says so when apt-get installed a package but its program is still not on PATH', async () => {
    const run = await prereqs(['demo'], { hide: ['redis-cli'], installsOffPath: ['redis-tools'] });
    expect(run.code).toBe(1);
    expect(run.aptCalls).toHaveLength(2);
    expect(run.stderr).toMatch(/still missing after apt-get install; is the package's directory on PATH/);
  });

  it('without apt-get, names the missing commands and stops', async () => {
    const run = await prereqs(['demo'], { hide: ['redis-server'], aptGet: false });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('this is not a Debian-like system');
    expect(run.stderr).toContain('redis-server  (Debian: redis-server)');
  });

  it('refuses an unknown target with its usage', async () => {
    const run = await prereqs(['deploy']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: scripts/prereqs.sh demo|doctor|test|ci [--check]');
  });
});
