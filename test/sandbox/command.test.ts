import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { sandboxCommand, sandboxOptionsFromArgs } from '../../src/cli/commands/sandbox.ts';
import type { CliIo } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { BridgeError } from '../../src/errors.ts';
import { basic, sampleBody } from './helpers.ts';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { stream, text: () => text };
}

function io(signal: AbortSignal, env: CliIo['env'] = {}) {
  const stdout = capture();
  const stderr = capture();
  const value: CliIo = {
    stdin: new PassThrough(),
    stdout: stdout.stream,
    stderr: stderr.stream,
    env,
    cwd: process.cwd(),
    signal,
  };
  return { io: value, stdout, stderr };
}

describe('gong-bridge sandbox', () => {
  it('maps every flag onto the sandbox options', () => {
    const options = sandboxOptionsFromArgs(
      [
        '--port=0',
        '--host=0.0.0.0',
        '--rps=5',
        '--daily=100',
        '--access-key=k',
        '--access-key-secret=s',
        '--bearer-token=t',
        '--max-body-bytes=2048',
        '--keep-bodies=1',
        '--keep-calls=2',
        '--fail-rate=0.1',
        '--fail-status=500,503',
        '--latency-ms=50',
        '--latency-jitter-ms=10',
        '--lost-reply-rate=0.05',
        '--outage-ms=1000',
        '--outage-status=502',
        '--record=out.jsonl',
        '--seed=9',
        '--strict',
      ],
      {},
    );
    expect(options).toEqual({
      port: 0,
      host: '0.0.0.0',
      rps: 5,
      daily: 100,
      accessKey: 'k',
      accessKeySecret: 's',
      bearerToken: 't',
      maxBodyBytes: 2048,
      keepBodies: 1,
      keepCalls: 2,
      faults: {
        failRate: 0.1,
        failStatuses: [500, 503],
        latencyMs: 50,
        latencyJitterMs: 10,
        lostReplyRate: 0.05,
        outageStatus: 502,
      },
      outageMs: 1000,
      seed: 9,
      recordFile: 'out.jsonl',
      strict: true,
    });
  });

  it('takes credentials from the environment when no flag names them', () => {
    const options = sandboxOptionsFromArgs([], { GONG_ACCESS_KEY: 'ek', GONG_ACCESS_KEY_SECRET: 'es' });
    expect(options).toMatchObject({
      accessKey: 'ek',
      accessKeySecret: 'es',
      port: 8089,
      host: '127.0.0.1',
      rps: 3,
      daily: 10_000,
      // The sandbox follows the published contract unless told otherwise.
      strict: false,
    });
  });

  it('takes --daily-limit, the name send uses, and the older --daily; refuses the two disagreeing', () => {
    const env = { GONG_BEARER_TOKEN: 't' };
    expect(sandboxOptionsFromArgs(['--daily-limit=7'], env).daily).toBe(7);
    expect(sandboxOptionsFromArgs(['--daily=8'], env).daily).toBe(8);
    expect(sandboxOptionsFromArgs(['--daily=9', '--daily-limit=9'], env).daily).toBe(9);
    expect(() => sandboxOptionsFromArgs(['--daily=1', '--daily-limit=2'], env)).toThrow(/disagree/);
  });

  it.each([
    [['--access-key=k']],
    [['--bearer-token=t', '--fail-rate=1.5']],
    [['--bearer-token=t', '--rps=2.5']],
    [['--bearer-token=t', '--fail-status=404']],
    [['--bearer-token=t', '--port=70000']],
    [['--bearer-token=t', '--nope']],
    [[]],
  ])('refuses %j as a usage error', (argv) => {
    expect(() => sandboxOptionsFromArgs(argv, {})).toThrow(BridgeError);
    try {
      sandboxOptionsFromArgs(argv, {});
    } catch (error) {
      expect((error as BridgeError).code).toBe('USAGE');
    }
  });

  it('prints where it listens, serves, and stops cleanly when the signal fires', async () => {
    const controller = new AbortController();
    const { io: cli, stdout } = io(controller.signal);
    const exit = sandboxCommand.run(['--port=0', '--access-key=k', '--access-key-secret=s', '--rps=0'], cli);
    await expect.poll(() => stdout.text()).toMatch(/\n$/);
    const match = /^gong sandbox listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout.text());
    expect(match).not.toBeNull();
    const url = match![1]!;
    const response = await request(`${url}/v2/digital-interaction`, {
      method: 'POST',
      headers: { authorization: basic('k', 's'), 'content-type': 'application/json' },
      body: JSON.stringify(sampleBody(1)),
    });
    expect(response.statusCode).toBe(200);
    await response.body.json();
    controller.abort('SIGTERM');
    expect(await exit).toBe(0);
    await expect(request(`${url}/_sandbox/health`)).rejects.toThrow();
  });

  it('is listed by gong-bridge --help and documents its control endpoints', async () => {
    const { io: cli, stdout } = io(new AbortController().signal);
    expect(await main(['--help'], cli)).toBe(0);
    expect(stdout.text()).toContain('  sandbox');
    for (const endpoint of [
      '/_sandbox/stats',
      '/_sandbox/accepted',
      '/_sandbox/calls',
      '/_sandbox/faults',
      '/_sandbox/reset',
    ]) {
      expect(sandboxCommand.help).toContain(endpoint);
    }
  });

  it('exits 2 with one line for a usage error', async () => {
    const { io: cli, stderr } = io(new AbortController().signal);
    expect(await main(['sandbox', '--rps=x', '--bearer-token=t'], cli)).toBe(2);
    expect(stderr.text()).toMatch(/^gong-bridge sandbox: --rps must be/);
  });
});
