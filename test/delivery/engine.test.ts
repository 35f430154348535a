import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createDeliveryEngine,
  type DeliveryEngine,
  type DeliveryEngineOptions,
} from '../../src/delivery/engine.ts';
import type { DeliveryEventMap, DeliveryEventName } from '../../src/delivery/events.ts';
import { untrackedSlot } from '../../src/delivery/limiter-types.ts';
import { defaultRetryPolicy } from '../../src/delivery/retry-policy.ts';
import { systemClock, systemSleep } from '../../src/delivery/system-time.ts';
import { isBridgeError } from '../../src/errors.ts';
import { createGongClient, type GongClient } from '../../src/gong/client.ts';
import { contractValidator } from '../../src/gong/validate.ts';
import { FakeLimiter, sampleBody, startScriptedServer, type ScriptedServer } from './helpers.ts';

let server: ScriptedServer;
let client: GongClient;
let limiter: FakeLimiter;
const engines: DeliveryEngine[] = [];

beforeEach(async () => {
  server = await startScriptedServer();
  client = createGongClient({
    baseUrl: server.url,
    auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 500,
    bodyTimeoutMs: 500,
    maxConnections: 8,
    clock: systemClock,
  });
  limiter = new FakeLimiter();
});
afterEach(async () => {
  for (const engine of engines.splice(0)) engine.close();
  await client.close();
  await server.close();
});

function engine(overrides: Partial<DeliveryEngineOptions> = {}): DeliveryEngine {
  const created = createDeliveryEngine({
    client,
    limiter,
    clock: systemClock,
    sleep: systemSleep,
    random: () => 0.5,
    retry: { ...defaultRetryPolicy, baseMs: 5, maxMs: 20 },
    maxBodyBytes: 10_000,
    authProbeIntervalMs: 50,
    authProbeMaxIntervalMs: 100,
    ...overrides,
  });
  engines.push(created);
  return created;
}

function record<K extends DeliveryEventName>(e: DeliveryEngine, name: K): DeliveryEventMap[K][] {
  const seen: DeliveryEventMap[K][] = [];
  e.events.on(name, (payload) => seen.push(payload));
  return seen;
}

describe('delivery engine', () => {
  it('sends a body that breaks only inferred rules, flagged once, and carries the rules to its outcome', async () => {
    server.script([{ status: 400, body: { requestId: 'r400', errors: ['value out of range'] } }]);
    const e = engine();
    const flagged = record(e, 'flagged');
    const rejected = record(e, 'rejected');
    const body = {
      ...sampleBody(1),
      content: { contentTitle: 't', stepContentDetails: { value: 'C', availableSteps: ['A'] } },
    };
    const outcome = await e.deliver(body);
    expect(server.requests.map((request) => JSON.parse(request.body) as unknown)).toEqual([body]);
    expect(flagged).toEqual([
      {
        eventId: 'evt-1',
        inferredRules: ['step-in-available-steps'],
        warnings: [
          'content.stepContentDetails.value: must be one of availableSteps [inferred rule step-in-available-steps]',
        ],
      },
    ]);
    expect(outcome).toEqual({
      kind: 'rejected',
      status: 400,
      errors: ['value out of range'],
      requestId: 'r400',
      attempts: 1,
      inferredRules: ['step-in-available-steps'],
    });
    expect(rejected[0]?.inferredRules).toEqual(['step-in-available-steps']);
  });

  it('withholds it without a call when its validator rejects inferred rules, naming them', async () => {
    const e = engine({ validate: contractValidator(true) });
    const flagged = record(e, 'flagged');
    const body = { ...sampleBody(2), eventType: ' ' };
    expect(await e.deliver(body)).toEqual({
      kind: 'invalid',
      errors: ['eventType: must not be blank [inferred rule blank-required-string]'],
      inferredRules: ['blank-required-string'],
    });
    expect(server.requests).toHaveLength(0);
    expect(flagged).toEqual([]);
  });

  it('retries 503, 500 and a reset connection, then delivers the same body', async () => {
    server.script([
      { status: 503 },
      { status: 500, body: { requestId: 'r5' } },
      'destroy',
      { status: 200, body: { requestId: 'ok-1' } },
    ]);
    const e = engine();
    const retries = record(e, 'retry');
    const calls = record(e, 'call');
    const outcome = await e.deliver(sampleBody(1));
    expect(outcome).toEqual({ kind: 'delivered', status: 200, requestId: 'ok-1', attempts: 4 });
    expect(server.requests).toHaveLength(4);
    expect(new Set(server.requests.map((r) => r.body)).size).toBe(1);
    expect(retries.map((r) => [r.attempt, r.reason])).toEqual([
      [1, 'transient-status'],
      [2, 'transient-status'],
      [3, 'transport'],
    ]);
    // Full jitter at random 0.5 over a 5 ms base: 2, 5, 10.
    expect(retries.map((r) => r.delayMs)).toEqual([2, 5, 10]);
    expect(calls.map((c) => c.status ?? c.code)).toEqual([503, 500, expect.any(String), 200]);
    expect(limiter.acquired).toBe(4);
    // Every attempt reached the socket, so every slot heard when its call left.
    expect(limiter.wired).toBe(4);
  });

  it('a 400 is rejected at once with Gong errors and requestId, one call', async () => {
    server.script([
      { status: 400, body: { requestId: 'r-bad', errors: ['content.contentTitle: required'] } },
    ]);
    const e = engine();
    const rejected = record(e, 'rejected');
    expect(await e.deliver(sampleBody(2))).toEqual({
      kind: 'rejected',
      status: 400,
      errors: ['content.contentTitle: required'],
      requestId: 'r-bad',
      attempts: 1,
    });
    expect(rejected).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it('a 409 is a duplicate: the event is already in Gong', async () => {
    server.script([{ status: 409, body: { requestId: 'r-dup', errors: ['already reported'] } }]);
    expect(await engine().deliver(sampleBody(3))).toEqual({
      kind: 'duplicate',
      status: 409,
      requestId: 'r-dup',
      attempts: 1,
    });
  });

  it('an invalid body never costs a call or a token', async () => {
    const e = engine();
    const invalid = record(e, 'invalid');
    const outcome = await e.deliver({ eventId: 'x' });
    expect(outcome.kind).toBe('invalid');
    expect(outcome.kind === 'invalid' && outcome.errors.length).toBeGreaterThan(0);
    expect(invalid[0]?.eventId).toBeUndefined();
    expect(server.requests).toHaveLength(0);
    expect(limiter.acquired).toBe(0);
  });

  it('a body over GONG_MAX_BODY_BYTES is invalid without a call', async () => {
    // Every field within its length cap, so only the total size is over.
    const big = { ...sampleBody(4), content: { contentTitle: 'x'.repeat(900), contentId: 'y'.repeat(900) } };
    const outcome = await engine({ maxBodyBytes: 1_024 }).deliver(big);
    expect(outcome).toEqual({
      kind: 'invalid',
      errors: [expect.stringContaining('GONG_MAX_BODY_BYTES (1024)')],
    });
    expect(server.requests).toHaveLength(0);
  });

  it('a 429 pauses every caller until Retry-After has passed, and tells the limiter', async () => {
    server.script([{ status: 429, headers: { 'retry-after': '1' } }], { status: 200, body: {} });
    const e = engine();
    const throttled = record(e, 'throttled');
    const first = e.deliver(sampleBody(10));
    // Let the first call reach the server and come back as 429 before the others start.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const throttledAt = server.requests[0]?.at ?? 0;
    const rest = [11, 12, 13].map((n) => e.deliver(sampleBody(n)));
    const outcomes = await Promise.all([first, ...rest]);
    expect(outcomes.map((o) => o.kind)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(limiter.throttles).toEqual([1_000]);
    expect(throttled).toEqual([{ eventId: 'evt-10', retryAfterMs: 1_000 }]);
    for (const request of server.requests.slice(1))
      expect(request.at - throttledAt).toBeGreaterThanOrEqual(990);
    expect(server.requests).toHaveLength(5);
  });

  it('a 401 halts every caller; only spaced probes are made; all resume when credentials work', async () => {
    let credentialsWork = false;
    server.script(
      [],
      // A function answer so the test can flip the credentials at runtime.
      (_req, res) => {
        res.writeHead(credentialsWork ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ requestId: 'r', ...(credentialsWork ? {} : { errors: ['bad key'] }) }));
      },
    );
    const e = engine();
    const failed = record(e, 'auth-failed');
    const recovered = record(e, 'auth-recovered');
    const probes = record(e, 'auth-probe');
    const pending = [1, 2, 3, 4, 5].map((n) => e.deliver(sampleBody(`h${n}`)));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(e.isHalted()).toBe(true);
    // At most the five calls already in flight when the halt began, then one probe at a time.
    const before = server.requests.length;
    expect(before).toBeLessThanOrEqual(5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const probeCalls = server.requests.length - before;
    expect(probeCalls).toBeGreaterThanOrEqual(1);
    expect(probeCalls).toBeLessThanOrEqual(4);
    expect(probes.length).toBe(probeCalls);
    credentialsWork = true;
    const outcomes = await Promise.all(pending);
    expect(outcomes.map((o) => o.kind)).toEqual([
      'delivered',
      'delivered',
      'delivered',
      'delivered',
      'delivered',
    ]);
    expect(e.isHalted()).toBe(false);
    expect(failed).toEqual([{ status: 401, reason: 'credentials', requestId: 'r', errors: ['bad key'] }]);
    expect(recovered).toHaveLength(1);
    // Every event reached Gong once after recovery: the probe's body counts as its delivery.
    const delivered = server.requests
      .slice(-5)
      .map((r) => (JSON.parse(r.body) as { eventId: string }).eventId);
    expect(new Set(delivered).size).toBe(5);
  });

  it('aborting a record stuck in retries rejects with SHUTTING_DOWN', async () => {
    server.script([], { status: 503 });
    const controller = new AbortController();
    const pending = engine().deliver(sampleBody(20), { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await pending.catch((caught: unknown) => caught);
    expect(isBridgeError(error) && error.code).toBe('SHUTTING_DOWN');
    expect(isBridgeError(error) && error.retriable).toBe(true);
  });

  it('aborting a caller parked on a halt releases it and the others keep waiting', async () => {
    server.script([], { status: 401 });
    const e = engine({ authProbeIntervalMs: 10_000 });
    const controller = new AbortController();
    const parked = e.deliver(sampleBody(30), { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expect(parked).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(e.isHalted()).toBe(true);
  });

  it('raises one retry alert after GONG_RETRY_ALERT_ATTEMPTS and keeps retrying', async () => {
    server.script([{ status: 500 }, { status: 502 }, { status: 504 }, { status: 503 }], { status: 200 });
    const e = engine({ retry: { ...defaultRetryPolicy, baseMs: 1, maxMs: 2, alertAttempts: 2 } });
    const alerts = record(e, 'retry-alert');
    expect((await e.deliver(sampleBody(40))).kind).toBe('delivered');
    expect(alerts).toEqual([
      { eventId: 'evt-40', attempts: 2, elapsedMs: expect.any(Number), lastReason: 'transient-status' },
    ]);
  });

  it('uses the eventId the caller gives for events', async () => {
    const e = engine();
    const delivered = record(e, 'delivered');
    await e.deliver(sampleBody(50), { eventId: 'topic/0/17' });
    expect(delivered[0]?.eventId).toBe('topic/0/17');
  });

  it('a limiter that fails during a probe ends the halt and hands the error to parked callers', async () => {
    server.script([], { status: 401 });
    let failProbe = false;
    const failing = new FakeLimiter();
    failing.acquire = async () => {
      if (failProbe) throw new Error('limiter broke');
      return untrackedSlot;
    };
    const e = engine({ limiter: failing, authProbeIntervalMs: 50 });
    const parked = e.deliver(sampleBody(60));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(e.isHalted()).toBe(true);
    failProbe = true;
    await expect(parked).rejects.toThrow('limiter broke');
    expect(e.isHalted()).toBe(false);
  });

  it('an unreadable token file halts without a call, and delivery resumes once the file exists', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'engine-token-'));
    const tokenClient = createGongClient({
      baseUrl: server.url,
      auth: { kind: 'bearer-file', path: join(dir, 'token') },
      connectTimeoutMs: 1_000,
      headersTimeoutMs: 500,
      bodyTimeoutMs: 500,
      maxConnections: 2,
      clock: systemClock,
    });
    try {
      const e = engine({ client: tokenClient });
      const failed = record(e, 'auth-failed');
      const calls = record(e, 'call');
      const pending = e.deliver(sampleBody(70));
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(failed).toEqual([{ status: 0, reason: 'token-unavailable' }]);
      expect(server.requests).toHaveLength(0);
      await writeFile(join(dir, 'token'), 'fresh');
      expect((await pending).kind).toBe('delivered');
      expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer fresh']);
      // Attempts without a token never left the process, so they are not counted as calls.
      expect(calls).toHaveLength(1);
    } finally {
      await tokenClient.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an answer outside the outcome table is retried and flagged as unexpected', async () => {
    server.script([{ status: 600 }], { status: 200 });
    const e = engine();
    const retries = record(e, 'retry');
    expect((await e.deliver(sampleBody(80))).kind).toBe('delivered');
    expect(retries).toEqual([
      expect.objectContaining({ status: 600, reason: 'transient-status', unexpected: true }),
    ]);
  });

  it('a closed engine refuses new work with SHUTTING_DOWN', async () => {
    const e = engine();
    e.close();
    await expect(e.deliver(sampleBody(90))).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(server.requests).toHaveLength(0);
  });

  it('an abort does not cut off a call on the wire: its settled answer is returned', async () => {
    server.script([
      (_req, res) => {
        setTimeout(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"requestId":"late"}'),
          100,
        );
      },
    ]);
    const controller = new AbortController();
    const pending = engine().deliver(sampleBody(100), { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    expect(await pending).toMatchObject({ kind: 'delivered', requestId: 'late' });
  });
});
