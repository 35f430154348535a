import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { bridgeEnv, produceTo, waitFor } from '../helpers/bridge.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');

/**
 * No Docker engine runs here, so this follows the Dockerfile's start path instead: compile in a
 * build directory, install production dependencies only (`npm ci --omit=dev`) into a clean
 * directory, copy in dist/ and schemas/, and start `node dist/cli/main.js run` against the real
 * stack. It catches a runtime import of a dev dependency, a file the build forgets, and paths
 * that only resolve from src/.
 */
describe('production install', () => {
  const work = mkdtempSync(join(tmpdir(), 'gong-bridge-prod-'));
  const buildDir = join(work, 'build');
  const appDir = join(work, 'app');
  const topic = uniqueName('prod-install');
  const kafka = testKafka();
  const admin = kafka.admin();
  let sandbox: RunningSandbox;
  let dropTopics: () => Promise<void> = async () => {};
  let bridge: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(root, file), join(buildDir, file));
    }
    cpSync(join(root, 'src'), join(buildDir, 'src'), { recursive: true });
    // The build stage only needs the compiler; reuse the checkout's dev dependencies for it.
    symlinkSync(join(root, 'node_modules'), join(buildDir, 'node_modules'));
    await run('npm', ['run', 'build'], { cwd: buildDir });

    for (const file of ['package.json', 'package-lock.json']) cpSync(join(root, file), join(appDir, file));
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: appDir,
      maxBuffer: 16 * 1024 * 1024,
    });
    cpSync(join(buildDir, 'dist'), join(appDir, 'dist'), { recursive: true });
    cpSync(join(root, 'schemas'), join(appDir, 'schemas'), { recursive: true });

    await admin.connect();
    dropTopics = await createTopics(admin, [topic], 2);
    sandbox = await startSandbox({ accessKey: 'prod-key', accessKeySecret: 'prod-secret', rps: 0, daily: 0 });
  }, 300_000);

  afterAll(async () => {
    if (bridge?.exitCode === null) bridge.kill('SIGKILL');
    await sandbox?.close();
    await dropTopics();
    await admin.disconnect();
    rmSync(work, { recursive: true, force: true });
  });

  it('starts gong-bridge run from dist/ with production dependencies only, turns ready and delivers', async () => {
    const httpPort = 41_000 + Math.floor(Math.random() * 8_000);
    const env = bridgeEnv({
      KAFKA_TOPICS: topic,
      KAFKA_GROUP_ID: uniqueName('prod-install-group'),
      GONG_BASE_URL: sandbox.url,
      GONG_ACCESS_KEY: 'prod-key',
      GONG_ACCESS_KEY_SECRET: 'prod-secret',
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    bridge = spawn(process.execPath, ['dist/cli/main.js', 'run'], {
      cwd: appDir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    bridge.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    bridge.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

    await waitFor('/readyz to answer 200', async () => {
      if (bridge?.exitCode !== null) throw new Error(`bridge exited early:\n${output}`);
      const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
      return response?.status === 200;
    });

    const produced = await produceTo(kafka, topic, 20);
    await waitFor('every sample accepted by the sandbox', () => sandbox.stats().accepted === produced.length);

    const exited = new Promise<number | null>((resolveExit) =>
      bridge?.on('exit', (code) => resolveExit(code)),
    );
    bridge.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
