import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryEngine } from '../../src/delivery/engine.ts';
import { untrackedSlot, type LimiterSnapshot } from '../../src/delivery/limiter-types.ts';
import { systemClock, systemSleep } from '../../src/shared/time.ts';
import { createGongClient } from '../../src/gong/client.ts';
import { startObservabilityServer, type ObservabilityServer } from '../../src/observability/http-server.ts';
import { startLoopWatchdog, type LoopHealth } from '../../src/observability/loop-watchdog.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createReadiness, type Readiness } from '../../src/observability/readiness.ts';
import { sampleBody, startScriptedServer } from '../delivery/helpers.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const snapshot: LimiterSnapshot = {
  tokensAvailable: 3,
  ratePerSecond: 3,
  dailyLimit: 10_000,
  dailyRemaining: 9_000,
  projectedExhaustionAt: null,
  pausedUntil: null,
  pauseReason: null,
  mode: 'local',
};

const healthy: LoopHealth = { healthy: true, lastDelayMs: 0, sinceLastBeatMs: 10 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(
  readiness: Readiness,
  loopHealth: () => LoopHealth = () => healthy,
  requestTimeoutMs?: number,
) {
  const metrics = createMetrics(new Registry(), { version: '1.2.3' });
  const server = await startObservabilityServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    readiness,
    loopHealth,
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
  });
  cleanups.push(() => server.close());
  return server;
}

async function get(server: ObservabilityServer, path: string, method = 'GET') {
  const response = await fetch(`${server.url}${path}`, { method });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe('observability HTTP server', () => {
  it('serves Prometheus text on /metrics', async () => {
    const server = await serve(createReadiness());
    const response = await get(server, '/metrics');
    expect(response.status).toBe(200);
    expect(response.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toContain('gong_bridge_build_info{version="1.2.3"');
  });

  it('answers 404 for any other path and 405 for methods other than GET and HEAD', async () => {
    const server = await serve(createReadiness());
    expect((await get(server, '/')).status).toBe(404);
    expect((await get(server, '/metrics/extra')).status).toBe(404);
    expect((await get(server, '/debug/pprof')).status).toBe(404);
    expect((await get(server, '/metrics', 'POST')).status).toBe(405);
    expect((await get(server, '/readyz', 'DELETE')).status).toBe(405);
    const head = await get(server, '/healthz', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('fails /healthz while the event loop is stalled', async () => {
    let health = healthy;
    const server = await serve(createReadiness(), () => health);
    expect((await get(server, '/healthz')).status).toBe(200);
    health = { healthy: false, lastDelayMs: 12_000, sinceLastBeatMs: 12_500 };
    const response = await get(server, '/healthz');
    expect(response.status).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ status: 'event loop stalled' });
  });

  it('reports ready only once the group is joined, with the quota state in the body', async () => {
    const readiness = createReadiness({ limiter: () => snapshot });
    const server = await serve(readiness);
    const before = await get(server, '/readyz');
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toMatchObject({ ready: false, checks: { consumerGroupJoined: false } });
    readiness.setConsumerGroupJoined(true);
    const after = await get(server, '/readyz');
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toEqual({
      ready: true,
      checks: {
        consumerGroupJoined: true,
        gongAuthOk: true,
        dlqWritable: true,
        receiptsWritable: true,
        schemaRegistryAuthOk: true,
        shuttingDown: false,
      },
      quota: {
        mode: 'local',
        dailyLimit: 10_000,
        dailyRemaining: 9_000,
        projectedExhaustionAt: null,
        pausedUntil: null,
        pauseReason: null,
      },
    });
  });

  it('flips readiness to false when Gong refuses the credentials, and back when they work', async () => {
    const gong = await startScriptedServer();
    cleanups.push(() => gong.close());
    gong.script([{ status: 401, body: { errors: ['bad key'] } }], { status: 200, body: { requestId: 'r' } });
    const limiter = {
      acquire: async () => untrackedSlot,
      onThrottled: () => {},
      snapshot: () => snapshot,
      close: async () => {},
    };
    const client = createGongClient({
      baseUrl: gong.url,
      auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
      connectTimeoutMs: 1_000,
      headersTimeoutMs: 1_000,
      bodyTimeoutMs: 1_000,
      maxConnections: 1,
      clock: systemClock,
    });
    cleanups.push(() => client.close());
    const engine = createDeliveryEngine({
      client,
      limiter,
      clock: systemClock,
      sleep: systemSleep,
      maxBodyBytes: 1_000_000,
      authProbeIntervalMs: 300,
    });
    const readiness = createReadiness({ authHalted: () => engine.isHalted(), limiter: () => snapshot });
    readiness.setConsumerGroupJoined(true);
    const server = await serve(readiness);
    expect((await get(server, '/readyz')).status).toBe(200);

    const halted = new Promise<void>((resolve) => engine.events.on('auth-failed', () => resolve()));
    const delivery = engine.deliver(sampleBody(1));
    await halted;
    const during = await get(server, '/readyz');
    expect(during.status).toBe(503);
    expect(JSON.parse(during.body)).toMatchObject({ ready: false, checks: { gongAuthOk: false } });

    await expect(delivery).resolves.toMatchObject({ kind: 'delivered' });
    expect((await get(server, '/readyz')).status).toBe(200);
    engine.close();
  });

  it('reports unready for good once shutdown starts', async () => {
    const readiness = createReadiness();
    readiness.setConsumerGroupJoined(true);
    const server = await serve(readiness);
    expect((await get(server, '/readyz')).status).toBe(200);
    readiness.markShuttingDown();
    const response = await get(server, '/readyz');
    expect(response.status).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ ready: false, checks: { shuttingDown: true } });
  });

  it('drops a client that sends no complete request within the timeout', async () => {
    const server = await serve(createReadiness(), undefined, 300);
    const socket = connect(server.port, '127.0.0.1');
    // Whichever timeout wins, the server may answer 408 before closing; an unread 408 would hold
    // back 'end' and so 'close' for ever (this flaked under load), so the client drains what it gets.
    socket.resume();
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const started = performance.now();
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('loop watchdog', () => {
  it('is healthy while heartbeats arrive on time and unhealthy after a stall, even once the loop is free', () => {
    const clock = new ManualClock();
    let beat = () => {};
    const watchdog = startLoopWatchdog({
      clock,
      intervalMs: 500,
      stallMs: 5_000,
      every: (_ms, callback) => {
        beat = callback;
        return () => {};
      },
    });
    clock.mono += 500;
    beat();
    expect(watchdog.check().healthy).toBe(true);
    // Nothing ran for 8 s: the heartbeat is overdue.
    clock.mono += 8_000;
    expect(watchdog.check().healthy).toBe(false);
    // The loop frees up and the late heartbeat runs: the stall is still reported once.
    beat();
    expect(watchdog.check()).toMatchObject({ healthy: false, lastDelayMs: 7_500 });
    clock.mono += 500;
    beat();
    expect(watchdog.check().healthy).toBe(true);
    watchdog.stop();
  });
});
