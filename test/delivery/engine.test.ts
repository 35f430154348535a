import type { ServerResponse } from 'node:http';
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

  it("takes the verdict its own validator already gave a body instead of walking it again (run's transform validates)", async () => {
    const validate = contractValidator(true);
    const e = engine({ validate });
    const body = sampleBody(3);
    expect(validate(body).ok).toBe(true);
    // Changed after its verdict (nothing in the bridge does this): had the engine validated again,
    // the blank eventType would have withheld it.
    body.eventType = ' ';
    expect(await e.deliver(body)).toMatchObject({ kind: 'delivered', attempts: 1 });
    expect(server.requests.map((request) => JSON.parse(request.body) as unknown)).toEqual([body]);
  });

  it('validates a body again when another validator passed it', async () => {
    const e = engine({ validate: contractValidator(true) });
    const body = { ...sampleBody(4), eventType: ' ' };
    // The sandbox's lenient validator sends inferred rules flagged; the engine's withholds them.
    expect(contractValidator(false)(body).ok).toBe(true);
    expect(await e.deliver(body)).toMatchObject({
      kind: 'invalid',
      inferredRules: ['blank-required-string'],
    });
    expect(server.requests).toHaveLength(0);
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
    // Full jitter at random 0.5 over a 5 ms base: 2, then 5; the third failure in a row makes an
    // outage, so the record waits for the outage probe (its own body) instead of a backoff.
    expect(retries.map((r) => r.delayMs)).toEqual([2, 5, 0]);
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
    await waitUntil(() => throttled.length === 1, 2_000);
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

describe('auth halt when every waiting caller has left (issue 13 §4)', () => {
  it('probes with the body that failed, so rotated credentials resume delivery after a revoke', async () => {
    // Credentials fixed after two 401s (the record's own call and the first probe); every caller
    // is aborted (a revoke) right after the halt, before the first probe at 1 s; nothing new
    // arrives, since the runtime stays paused while halted.
    server.script([{ status: 401 }, { status: 401 }], { status: 200, body: { requestId: 'ok' } });
    const e = engine({ authProbeIntervalMs: 1_000, authProbeMaxIntervalMs: 1_000 });
    const recovered = record(e, 'auth-recovered');
    const revoke = new AbortController();
    const parked = [1, 2].map((n) => e.deliver(sampleBody(`rev${n}`), { signal: revoke.signal }));
    await waitUntil(() => e.isHalted(), 2_000);
    revoke.abort();
    for (const outcome of parked) await expect(outcome).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    const haltedAt = performance.now();
    await waitUntil(() => !e.isHalted(), 5_000);
    // Two probes, 1 s apart: the first still refused, the second through.
    expect(performance.now() - haltedAt).toBeLessThan(3_000);
    expect(server.requests).toHaveLength(3);
    // Without a caller the probe settles nothing, but it proves the credentials.
    expect(recovered).toEqual([{ haltedMs: expect.any(Number), probes: 2 }]);
    expect((await e.deliver(sampleBody('after'))).kind).toBe('delivered');
  });
});

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms; gong saw ${server.requests.length} calls`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A FakeLimiter that also notices a slot released twice, and when each release came. */
class ReleaseCountingLimiter extends FakeLimiter {
  releasedTwice = 0;
  readonly releaseOrder: string[] = [];
  override async acquire(signal?: AbortSignal) {
    const slot = await super.acquire(signal);
    let done = false;
    return {
      onWire: () => slot.onWire(),
      release: () => {
        if (done) this.releasedTwice += 1;
        done = true;
        this.releaseOrder.push('release');
        slot.release();
      },
    };
  }
}

describe('every granted slot is released once (issue 14 §2, engine side)', () => {
  it('after an answer, a transport error, a 429 and a halt probe, and before the call is reported', async () => {
    server.script(
      [{ status: 503 }, 'destroy', { status: 429, headers: { 'retry-after': '0' } }, { status: 401 }],
      { status: 200, body: { requestId: 'ok' } },
    );
    const counting = new ReleaseCountingLimiter();
    const e = engine({ limiter: counting, authProbeIntervalMs: 20 });
    e.events.on('call', () => counting.releaseOrder.push('call'));
    expect((await e.deliver(sampleBody('rel'))).kind).toBe('delivered');
    expect(server.requests).toHaveLength(5);
    expect(counting.acquired).toBe(5);
    expect(counting.released).toBe(5);
    expect(counting.releasedTwice).toBe(0);
    // Each grant goes back as soon as its answer is in, before anyone hears of the call.
    expect(counting.releaseOrder).toEqual(Array.from({ length: 5 }, () => ['release', 'call']).flat());
  });

  it('a grant dropped because a 429 arrived while it queued is released unused', async () => {
    let grantHeld: (() => void) | undefined;
    const counting = new ReleaseCountingLimiter();
    const acquire = counting.acquire.bind(counting);
    let calls = 0;
    counting.acquire = async (signal?: AbortSignal) => {
      calls += 1;
      // The second caller's grant arrives only after the first caller's 429 is in.
      if (calls === 2) await new Promise<void>((resolve) => (grantHeld = resolve));
      return acquire(signal);
    };
    server.script([{ status: 429, headers: { 'retry-after': '1' } }], { status: 200, body: {} });
    const e = engine({ limiter: counting });
    const throttled = new Promise<void>((resolve) => e.events.on('throttled', () => resolve()));
    const first = e.deliver(sampleBody('q1'));
    const second = e.deliver(sampleBody('q2'));
    await throttled;
    grantHeld?.();
    await Promise.all([first, second]);
    // 429 + two deliveries on the wire; the grant that arrived during the pause never left.
    expect(server.requests).toHaveLength(3);
    expect(counting.acquired).toBe(4);
    expect(counting.wired).toBe(3);
    expect(counting.released).toBe(4);
    expect(counting.releasedTwice).toBe(0);
  });

  it('a refused connection never reports the wire, and its grant is released', async () => {
    const url = server.url;
    await server.close();
    const refusing = createGongClient({
      baseUrl: url,
      auth: { kind: 'basic', accessKey: 'k', accessKeySecret: 's' },
      connectTimeoutMs: 500,
      headersTimeoutMs: 500,
      bodyTimeoutMs: 500,
      maxConnections: 2,
      clock: systemClock,
    });
    const counting = new ReleaseCountingLimiter();
    const e = engine({ client: refusing, limiter: counting });
    const controller = new AbortController();
    const calls = record(e, 'call');
    const pending = e.deliver(sampleBody('refused'), { signal: controller.signal });
    await waitUntil(() => calls.length >= 2, 2_000);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await refusing.close();
    server = await startScriptedServer();
    expect(calls.every((c) => c.code === 'ECONNREFUSED')).toBe(true);
    expect(counting.wired).toBe(0);
    expect(counting.released).toBe(counting.acquired);
    expect(counting.releasedTwice).toBe(0);
  });
});

describe('a run of transient failures is one outage (issue 13 §5)', () => {
  /** 503 while `down`, else 200; the test flips it. */
  function gongThatIsDown() {
    const state = { down: true, recoveredAt: 0 };
    server.script([], (_req, res) => {
      res.writeHead(state.down ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requestId: 'r' }));
    });
    return state;
  }

  it('while Gong is down only probes go out, one at a time; after the first answer every record resumes', async () => {
    const gong = gongThatIsDown();
    const e = engine({ retry: { ...defaultRetryPolicy, baseMs: 20, maxMs: 200, outageProbeMaxMs: 100 } });
    const calls = record(e, 'call');
    const outages = record(e, 'outage');
    const ended = record(e, 'outage-ended');
    const pending = Array.from({ length: 10 }, (_, n) => e.deliver(sampleBody(`down${n}`)));
    await waitUntil(() => outages.length === 1, 2_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const own = calls.filter((c) => !c.probe).length;
    const probes = calls.filter((c) => c.probe).length;
    // Each record's first call, plus the few failures that made the run: nothing more of its own.
    expect(own).toBeLessThanOrEqual(10 + defaultRetryPolicy.outageAfterFailures);
    expect(probes).toBeGreaterThanOrEqual(3);
    // One at a time, 50-100 ms apart at most once the wait reached its cap: about 15 in a second.
    expect(probes).toBeLessThanOrEqual(25);
    gong.down = false;
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((o) => o.kind === 'delivered')).toBe(true);
    expect(ended).toEqual([{ outageMs: expect.any(Number), probes: expect.any(Number), status: 200 }]);
    // The probe that got the answer delivered its own record; the other nine called once each.
    expect(calls.filter((c) => c.status === 200)).toHaveLength(10);
  });

  it('records that backed off on their own resume as soon as a call gets an answer', async () => {
    const gong = gongThatIsDown();
    // Long backoffs (0.5, 1, 2, 4 s at random 0.5): before, each record slept its own, and the last
    // reached Gong seconds after it had recovered.
    const e = engine({
      retry: { ...defaultRetryPolicy, baseMs: 1_000, maxMs: 20_000, outageProbeMaxMs: 300 },
    });
    const delivered: number[] = [];
    e.events.on('delivered', () => delivered.push(performance.now()));
    const pending = Array.from({ length: 5 }, (_, n) => e.deliver(sampleBody(`slow${n}`)));
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    gong.down = false;
    const recoveredAt = performance.now();
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((o) => o.kind === 'delivered')).toBe(true);
    // A probe at most 300 ms after the recovery, then every record through the (unlimited) limiter.
    expect(Math.max(...delivered) - recoveredAt).toBeLessThan(1_500);
  });

  it('a lone failure among answers stays that record’s own retry: no outage', async () => {
    server.script([{ status: 503 }], { status: 200, body: {} });
    const e = engine();
    const outages = record(e, 'outage');
    const outcomes = await Promise.all([1, 2, 3, 4].map((n) => e.deliver(sampleBody(`lone${n}`))));
    expect(outcomes.map((o) => o.kind)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(outages).toEqual([]);
  });

  it('an outage that answers 401 becomes a halt, and ends with the credentials', async () => {
    let answer = 503;
    server.script([], (_req, res) => {
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requestId: 'r' }));
    });
    const e = engine({ retry: { ...defaultRetryPolicy, baseMs: 10, maxMs: 20, outageProbeMaxMs: 30 } });
    const outages = record(e, 'outage');
    const ended = record(e, 'outage-ended');
    const halts = record(e, 'auth-failed');
    const pending = [1, 2, 3].map((n) => e.deliver(sampleBody(`o2h${n}`)));
    await waitUntil(() => outages.length === 1, 2_000);
    answer = 401;
    await waitUntil(() => e.isHalted(), 2_000);
    expect(ended).toEqual([expect.objectContaining({ status: 401 })]);
    expect(halts).toEqual([expect.objectContaining({ status: 401, reason: 'credentials' })]);
    answer = 200;
    expect((await Promise.all(pending)).map((o) => o.kind)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(e.suspension()).toBeUndefined();
  });
});

describe('4xx about the way to Gong halt instead of dead-lettering (issue 13 §5)', () => {
  it.each([
    [407, 'proxy'],
    [421, 'endpoint'],
    [425, 'connection'],
    [431, 'headers'],
  ] as const)('%i halts (%s), probes, and delivers once it passes', async (status, reason) => {
    server.script([{ status }, { status }], { status: 200, body: { requestId: 'ok' } });
    const e = engine();
    const halts = record(e, 'auth-failed');
    const outcome = await e.deliver(sampleBody(`via-${status}`));
    // The record's own call, then probes: the failed probe is not the record's attempt.
    expect(outcome).toMatchObject({ kind: 'delivered', attempts: 2 });
    expect(server.requests).toHaveLength(3);
    expect(halts).toEqual([expect.objectContaining({ status, reason })]);
  });
});

describe('the breaker on Gong rejections (issue 13 §5)', () => {
  const rejectAll = (errors: string[]) => (_req: unknown, res: ServerResponse) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ requestId: 'r', errors }));
  };

  it('different events rejected in a row with the same errors halt delivery instead of draining the stream', async () => {
    let accept = false;
    server.script([], (req, res, body) => {
      if (accept) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"requestId":"ok"}');
        return;
      }
      // The same message, quoting each event's own position: folded digits make it one error.
      const n = /"eventId":"evt-br(\d+)"/.exec(body)?.[1] ?? '?';
      rejectAll([`field custom.plan is not allowed (at byte ${n}7)`])(req, res);
    });
    const e = engine({ rejectionBreaker: 5, authProbeIntervalMs: 50 });
    const halts = record(e, 'auth-failed');
    const rejected = record(e, 'rejected');
    // One at a time, as a partition's records would be settled in turn.
    const outcomes: string[] = [];
    for (let n = 0; n < 4; n++) outcomes.push((await e.deliver(sampleBody(`br${n}`))).kind);
    expect(outcomes).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    const held = [4, 5, 6].map((n) => e.deliver(sampleBody(`br${n}`)));
    await waitUntil(() => e.isHalted(), 2_000);
    expect(halts).toEqual([expect.objectContaining({ status: 400, reason: 'rejections' })]);
    expect(e.suspension()).toMatchObject({ kind: 'halt', reason: 'rejections' });
    // Probes keep seeing the same rejection: nothing more is dead-lettered while it lasts.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rejected).toHaveLength(4);
    accept = true;
    expect((await Promise.all(held)).map((o) => o.kind)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(e.isHalted()).toBe(false);
  });

  it('rejections with their own errors, or with deliveries between them, are dead-lettered as before', async () => {
    let n = 0;
    server.script([], (req, res) => {
      n += 1;
      if (n % 3 === 0) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else rejectAll(['timestamp is in the future'])(req, res);
    });
    const e = engine({ rejectionBreaker: 3 });
    const kinds: string[] = [];
    for (let i = 0; i < 9; i++) kinds.push((await e.deliver(sampleBody(`mix${i}`))).kind);
    expect(kinds.filter((k) => k === 'rejected')).toHaveLength(6);
    expect(e.isHalted()).toBe(false);
  });
});

describe('an outage that ends while its probe waits for a grant', () => {
  it('hands the probe’s record back to its own loop when a 429 drops the grant', async () => {
    let mode: 'up' | 'down' = 'up';
    let lateAnswered = false;
    server.script([], (_req, res, body) => {
      const answer = (status: number) => {
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0.2' });
        res.end('{}');
      };
      // A call still in flight when the outage began comes back 429 once it is under way.
      if (body.includes('"evt-late"') && !lateAnswered) {
        lateAnswered = true;
        setTimeout(() => answer(429), 300);
      } else answer(mode === 'up' ? 200 : 503);
    });
    const gated = new FakeLimiter();
    const acquire = gated.acquire.bind(gated);
    let releaseProbe: (() => void) | undefined;
    const probeMayGo = new Promise<void>((resolve) => (releaseProbe = resolve));
    const e = engine({ limiter: gated, retry: { ...defaultRetryPolicy, baseMs: 5, maxMs: 20 } });
    gated.acquire = async (signal?: AbortSignal) => {
      // The outage's probe gets its grant only after the 429 ended the outage.
      if (e.suspension()?.kind === 'outage') await probeMayGo;
      return acquire(signal);
    };
    e.events.on('throttled', () => {
      mode = 'up';
      releaseProbe?.();
    });
    expect((await e.deliver(sampleBody('warm'))).kind).toBe('delivered');
    mode = 'down';
    const late = e.deliver(sampleBody('late'));
    const others = [1, 2, 3].map((n) => e.deliver(sampleBody(`p${n}`)));
    const outcomes = await Promise.all([...others, late]);
    expect(outcomes.map((o) => o.kind)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(gated.released).toBe(gated.acquired);
  });
});
