import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.ts';
import { sampleBody } from '../delivery/helpers.ts';
import { maxInWindow } from '../helpers/rolling-window.ts';
import { httpUrl, tcpFaultProxy, type FaultProxy } from '../helpers/toxiproxy.ts';
import { runCli } from './run-cli.ts';

/**
 * `gong-bridge send` at its default concurrency against a strict 3/s server (issue 14 §1): the
 * real command in a process of its own, through Toxiproxy, so the first contact reaches the server
 * late the way a cold start's does (connections being set up beyond our view, a server that has
 * just started and handles its first calls slowly). Against a freshly started sandbox process the
 * first burst, sent back to back, arrived 50-90 ms after it was written, while the next burst a
 * second later arrived at once, and two calls of it got 429.
 */

const KEY = 'rate-key';
const SECRET = 'rate-secret';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
});

describe('send against a strict 3/s server', () => {
  it('a first contact that arrives 150 ms late does not let the next burst in early: zero 429s', async () => {
    const sandbox: RunningSandbox = await startSandbox({
      accessKey: KEY,
      accessKeySecret: SECRET,
      rps: 3,
      daily: 0,
      // The first answer takes a while, so the path is warm before the calls that follow it leave.
      faults: { latencyMs: 200 },
    });
    cleanups.push(() => sandbox.close());
    const proxy: FaultProxy = await tcpFaultProxy(`${sandbox.host}:${sandbox.port}`);
    cleanups.unshift(() => proxy.close());
    await proxy.addToxic({ type: 'latency', stream: 'upstream', attributes: { latency: 150, jitter: 0 } });
    // The path is warm once the first call got through: from then on calls arrive at once. The
    // calls already on their way stay 150 ms late.
    const warmed = (async () => {
      while (sandbox.calls().length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      await proxy.clearToxics();
      sandbox.setFaults({ latencyMs: 0 });
    })();
    const stamp = Date.now();
    const bodies = Array.from({ length: 9 }, (_, n) => JSON.stringify(sampleBody(`rate-${stamp}-${n}`)));
    const run = await runCli(['send', '-', '--share', '1', '--json'], `${bodies.join('\n')}\n`, {
      GONG_BASE_URL: httpUrl(proxy),
      GONG_ACCESS_KEY: KEY,
      GONG_ACCESS_KEY_SECRET: SECRET,
      GONG_RATE_PER_SECOND: '3',
    });
    await warmed;
    const calls = sandbox.calls();
    expect({
      code: run.code,
      delivered: run.lines[0]?.delivered,
      throttled: calls.filter((call) => call.status === 429).length,
      maxInRollingSecond: maxInWindow(calls.map((call) => call.t)),
    }).toEqual({ code: 0, delivered: 9, throttled: 0, maxInRollingSecond: 3 });
  });
});
