import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.ts';
import { basic, closeAll, get, manualClock, post, sampleBody, sandbox } from './helpers.ts';

afterEach(closeAll);

const GONG_REQUEST_ID = /^[0-9a-z]{19}$/;

describe('POST /v2/digital-interaction', () => {
  it('answers 200 {requestId} with a Gong-style id and keeps the event', async () => {
    const s = await sandbox();
    const reply = await post(s, sampleBody(1));
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(reply.body)).toEqual(['requestId']);
    expect(reply.body.requestId).toMatch(GONG_REQUEST_ID);
    const accepted = await get(s, '/_sandbox/accepted');
    expect(accepted.body).toMatchObject({
      total: 1,
      events: [{ eventId: 'evt-1', conflicts: 0, body: sampleBody(1) }],
    });
  });

  it('gives every answer its own request id', async () => {
    const s = await sandbox();
    const ids = new Set<string>();
    for (let i = 0; i < 20; i += 1) ids.add((await post(s, sampleBody(i))).body.requestId ?? '');
    expect(ids.size).toBe(20);
  });

  it('answers 401 {requestId, errors} without credentials, with a wrong secret, or with a bearer it does not know', async () => {
    const s = await sandbox();
    for (const authorization of [
      null,
      basic('sandbox-key', 'wrong'),
      basic('other', 'sandbox-secret'),
      'Bearer nope',
      'Basic %%%',
    ]) {
      const reply = await post(s, sampleBody(1), { authorization });
      expect(reply.status, String(authorization)).toBe(401);
      expect(reply.body.requestId).toMatch(GONG_REQUEST_ID);
      expect(reply.body.errors).toHaveLength(1);
    }
    const stats = (await get(s, '/_sandbox/stats')).body;
    // Unauthenticated calls belong to no account: no quota used, nothing stored.
    expect(stats).toMatchObject({ calls: 5, counted: 0, accepted: 0, byStatus: { '401': 5 } });
  });

  it('accepts a bearer token when one is configured, alongside Basic', async () => {
    const s = await sandbox({ bearerToken: 'tok-123' });
    expect((await post(s, sampleBody(1), { authorization: 'Bearer tok-123' })).status).toBe(200);
    expect((await post(s, sampleBody(2))).status).toBe(200);
  });

  it('answers 400 for malformed JSON, a wrong Content-Type and invalid UTF-8', async () => {
    const s = await sandbox();
    const malformed = await post(s, '{"eventId": "e1",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors?.[0]).toMatch(/^Malformed JSON/);
    const wrongType = await post(s, JSON.stringify(sampleBody(1)), {
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors?.[0]).toMatch(/Content-Type/);
    const response = await request(`${s.url}/v2/digital-interaction`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0xff, 0x7d]),
    });
    expect(response.statusCode).toBe(400);
    expect(((await response.body.json()) as { errors: string[] }).errors[0]).toMatch(/UTF-8/);
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({ accepted: 0, byStatus: { '400': 3 } });
  });

  it("answers 400 with the validator's path-precise errors for a body that breaks the contract", async () => {
    const s = await sandbox();
    const body = { ...sampleBody(1), device: 'TABLET', content: {} };
    const reply = await post(s, body);
    expect(reply.status).toBe(400);
    expect(reply.body.requestId).toMatch(GONG_REQUEST_ID);
    expect(reply.body.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^device: /),
        expect.stringMatching(/^content\.contentTitle: /),
      ]),
    );
    expect((await get(s, '/_sandbox/accepted')).body).toMatchObject({ total: 0 });
  });

  // The published contract states none of the inferred rules (src/gong/rule-catalogue.ts), nor any
  // length limit: a Gong that follows it accepts these, so the sandbox does too.
  const undocumented = () => ({
    ...sampleBody(20),
    eventType: ' ',
    content: {
      contentTitle: 'a'.repeat(5_000),
      contentLabel: Array.from({ length: 1_500 }, (_, index) => `label ${index}`),
      numericContentDetails: { value: 11, rangeFrom: 0, rangeTo: 10 },
      stepContentDetails: { value: 'Module 9', availableSteps: ['Enrolled'] },
    },
    customFields: [{ name: 'score', value: 'high', dataType: 'NUMBER' }],
  });

  it('accepts what the contract does not forbid: inferred rules broken, values past the bridge limits', async () => {
    const s = await sandbox();
    const body = undocumented();
    expect((await post(s, body)).status).toBe(200);
    expect(s.event('evt-20')?.body).toEqual(body);
    expect(s.stats().strict).toBe(false);
  });

  it('with strict, answers 400 naming every inferred rule the body breaks, and stores nothing', async () => {
    const s = await sandbox({ strict: true });
    const reply = await post(s, undocumented());
    expect(reply.status).toBe(400);
    expect(reply.body.errors).toEqual([
      'eventType: must not be blank [inferred rule blank-required-string]',
      'content.numericContentDetails.value: must be within rangeFrom..rangeTo (0..10) [inferred rule numeric-value-in-range]',
      'content.stepContentDetails.value: must be one of availableSteps [inferred rule step-in-available-steps]',
      'customFields[0].value: must be a number for dataType NUMBER [inferred rule custom-field-value-type]',
    ]);
    expect(s.stats()).toMatchObject({ accepted: 0, strict: true, byStatus: { '400': 1 } });
    // Strict adds undocumented rules only: the bridge's own limits are still not Gong's.
    const { eventType: _blank, ...rest } = undocumented();
    const onlyLimits = { ...rest, eventType: 'page viewed', content: { contentTitle: 'a'.repeat(5_000) } };
    expect((await post(s, { ...onlyLimits, customFields: [] })).status).toBe(200);
  });

  it('answers 409 for an eventId it already accepted and counts the conflicts per event', async () => {
    const s = await sandbox();
    expect((await post(s, sampleBody(7))).status).toBe(200);
    const again = await post(s, { ...sampleBody(7), eventType: 'link clicked' });
    expect(again.status).toBe(409);
    expect(again.body.errors?.[0]).toContain('evt-7');
    expect((await post(s, sampleBody(7))).status).toBe(409);
    const accepted = await get(s, '/_sandbox/accepted?eventId=evt-7');
    expect(accepted.body).toMatchObject({
      total: 1,
      events: [{ eventId: 'evt-7', conflicts: 2, body: sampleBody(7) }],
    });
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({ accepted: 1, duplicates: 2 });
  });

  it('answers 413 when Content-Length is over the limit, without using quota', async () => {
    const s = await sandbox({ maxBodyBytes: 1024, rps: 1 });
    const body = { ...sampleBody(1), content: { contentTitle: 'x'.repeat(2000) } };
    const reply = await post(s, body);
    expect(reply.status).toBe(413);
    expect(reply.body.errors?.[0]).toMatch(/1024-byte limit/);
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({ counted: 0 });
    // The connection stays usable and the quota untouched: the next call goes through.
    expect((await post(s, sampleBody(2))).status).toBe(200);
  });

  it('answers 413 when a chunked body without Content-Length streams past the limit', async () => {
    const s = await sandbox({ maxBodyBytes: 1024 });
    const chunks = ['{"eventId":"big","pad":"', 'y'.repeat(800), 'y'.repeat(800), '"}'];
    const response = await request(`${s.url}/v2/digital-interaction`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/json' },
      body: Readable.from(chunks.map((chunk) => Buffer.from(chunk))),
    });
    expect(response.statusCode).toBe(413);
    await response.body.json();
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({
      accepted: 0,
      byOutcome: { 'too-large': 1 },
    });
  });

  it('honours Expect: 100-continue: refuses an oversized body before it is sent, continues a good one', async () => {
    const s = await sandbox({ maxBodyBytes: 1024 });
    const attempt = (body: string) =>
      new Promise<{ status: number; continued: boolean; connection: string | undefined }>(
        (resolve, reject) => {
          let continued = false;
          const req = httpRequest(`${s.url}/v2/digital-interaction`, {
            method: 'POST',
            agent: false,
            headers: {
              authorization: basic(),
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              expect: '100-continue',
            },
          });
          req.on('continue', () => {
            continued = true;
            req.end(body);
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, continued, connection: res.headers.connection }),
            );
          });
          req.on('error', reject);
          req.flushHeaders();
        },
      );
    const big = JSON.stringify({ ...sampleBody(1), content: { contentTitle: 'x'.repeat(2000) } });
    expect(await attempt(big)).toEqual({ status: 413, continued: false, connection: 'close' });
    expect(await attempt(JSON.stringify(sampleBody(2)))).toMatchObject({ status: 200, continued: true });
  });

  it('answers 404 for unknown paths and 405 with Allow for other methods', async () => {
    const s = await sandbox();
    expect((await post(s, sampleBody(1), { path: '/v2/digital-interactions' })).status).toBe(404);
    const wrongMethod = await request(`${s.url}/v2/digital-interaction`, { method: 'GET' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    expect(wrongMethod.headers['content-type']).toMatch(/^application\/json/);
    await wrongMethod.body.json();
    expect((await get(s, '/_sandbox/nothing')).status).toBe(404);
  });

  it('orders checks: 401 before 413 before 429 before 400', async () => {
    const clock = manualClock();
    const s = await sandbox({ clock, rps: 1, maxBodyBytes: 1024 });
    const big = { ...sampleBody(1), content: { contentTitle: 'x'.repeat(2000) } };
    expect((await post(s, '{', { authorization: null })).status).toBe(401);
    expect((await post(s, big)).status).toBe(413);
    expect((await post(s, '{')).status).toBe(400); // uses the one call of this second
    expect((await post(s, big)).status).toBe(413); // still 413, not 429: the body can never pass
    expect((await post(s, '{')).status).toBe(429);
  });
});

describe('rate limits', () => {
  it('answers 429 with an integer Retry-After once rps calls landed in the rolling second', async () => {
    const clock = manualClock();
    const s = await sandbox({ clock, rps: 3 });
    for (let i = 0; i < 3; i += 1) expect((await post(s, sampleBody(i))).status).toBe(200);
    clock.advance(250);
    const throttled = await post(s, sampleBody(3));
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('1'); // 750 ms left, rounded up
    expect(throttled.body.requestId).toMatch(/^[0-9a-z]{19}$/);
    expect(throttled.body.errors?.[0]).toMatch(/3 calls per second/);
    clock.advance(749);
    expect((await post(s, sampleBody(3))).status).toBe(429);
    clock.advance(1);
    expect((await post(s, sampleBody(3))).status).toBe(200);
  });

  it('is a rolling second, not a fixed one: a 4th call within any 1000 ms is refused across a second boundary', async () => {
    const clock = manualClock(0);
    const s = await sandbox({ clock, rps: 3 });
    const at = async (t: number, n: number) => {
      clock.advance(t - clock.now());
      return (await post(s, sampleBody(n))).status;
    };
    // Three calls late in second 0...
    expect(await at(600, 1)).toBe(200);
    expect(await at(700, 2)).toBe(200);
    expect(await at(800, 3)).toBe(200);
    // ...then second 1 begins. A fixed-window counter would reset here and allow 3 more, i.e. 6
    // calls within 600-1200 ms. The rolling window still sees 600, 700 and 800.
    expect(await at(1000, 4)).toBe(429);
    expect(await at(1100, 4)).toBe(429);
    expect(await at(1599, 4)).toBe(429);
    expect(await at(1600, 4)).toBe(200); // the 600 ms call left the window
    expect(await at(1650, 5)).toBe(429); // 700, 800, 1600 still inside
    expect(await at(1700, 5)).toBe(200);
    const admitted = (await get(s, '/_sandbox/calls')).body.calls as {
      t: number;
      status: number;
      counted: boolean;
    }[];
    const times = admitted.filter((call) => call.counted).map((call) => call.t);
    expect(times).toEqual([600, 700, 800, 1600, 1700]);
    for (let i = 3; i < times.length; i += 1) expect(times[i]! - times[i - 3]!).toBeGreaterThanOrEqual(1000);
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({ byStatus: { '200': 5, '429': 4 } });
  });

  it('counts every admitted call against the rate, whatever its answer', async () => {
    const clock = manualClock();
    const s = await sandbox({ clock, rps: 3 });
    expect((await post(s, sampleBody(1))).status).toBe(200);
    expect((await post(s, sampleBody(1))).status).toBe(409);
    expect((await post(s, '{')).status).toBe(400);
    expect((await post(s, sampleBody(2))).status).toBe(429);
  });

  it('answers 429 once the daily budget is spent, with Retry-After until the oldest call is 24 h old', async () => {
    const clock = manualClock(0);
    const s = await sandbox({ clock, rps: 0, daily: 5 });
    for (let i = 0; i < 5; i += 1) {
      expect((await post(s, sampleBody(i))).status).toBe(200);
      clock.advance(60_000);
    }
    const spent = await post(s, sampleBody(5));
    expect(spent.status).toBe(429);
    expect(spent.body.errors?.[0]).toMatch(/5 calls per day/);
    // The first call was at 0 and it is now 300 s later.
    expect(spent.headers['retry-after']).toBe(String(86_400 - 300));
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({
      limits: { daily: 5, inLast24h: 5, dailyRemaining: 0 },
      byOutcome: { 'throttled-daily': 1 },
    });
  });

  it('refills the daily budget on a rolling 24 h: one call frees up as each call turns 24 h old', async () => {
    const clock = manualClock(0);
    const s = await sandbox({ clock, rps: 0, daily: 2 });
    expect((await post(s, sampleBody(1))).status).toBe(200);
    clock.advance(3_600_000);
    expect((await post(s, sampleBody(2))).status).toBe(200);
    clock.advance(86_400_000 - 3_600_000 - 1);
    expect((await post(s, sampleBody(3))).status).toBe(429);
    clock.advance(1); // the first call is now exactly 24 h old
    expect((await post(s, sampleBody(3))).status).toBe(200);
    expect((await post(s, sampleBody(4))).status).toBe(429);
    clock.advance(3_600_000);
    expect((await post(s, sampleBody(4))).status).toBe(200);
  });
});

describe('startSandbox', () => {
  it('fails with CONFIG_INVALID when the port is taken, or credentials or limits are missing or wrong', async () => {
    const first = await sandbox();
    await expect(sandbox({ port: first.port })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startSandbox({})).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startSandbox({ accessKey: 'k' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(sandbox({ rps: -1 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(sandbox({ faults: { failRate: 2 } })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('control endpoints', () => {
  it('reports stats per status and outcome, and resets everything', async () => {
    const clock = manualClock();
    const s = await sandbox({ clock, rps: 2 });
    await post(s, sampleBody(1));
    await post(s, sampleBody(1));
    await post(s, sampleBody(2));
    await post(s, sampleBody(3), { authorization: null });
    const stats = (await get(s, '/_sandbox/stats')).body;
    expect(stats).toMatchObject({
      calls: 4,
      counted: 2,
      accepted: 1,
      duplicates: 1,
      byStatus: { '200': 1, '401': 1, '409': 1, '429': 1 },
      byOutcome: { accepted: 1, duplicate: 1, 'throttled-rate': 1, unauthorized: 1 },
      peakCallsPerRollingSecond: 3,
      limits: { rps: 2, inLastSecond: 2 },
    });
    const reset = await request(`${s.url}/_sandbox/reset`, { method: 'POST' });
    expect(reset.statusCode).toBe(200);
    await reset.body.json();
    expect((await get(s, '/_sandbox/stats')).body).toMatchObject({ calls: 0, accepted: 0, byStatus: {} });
    expect((await post(s, sampleBody(1))).status).toBe(200);
  });

  it('pages the call log with since, and keeps seq increasing across a reset', async () => {
    const s = await sandbox({ keepCalls: 3 });
    for (let i = 0; i < 5; i += 1) await post(s, sampleBody(i));
    const all = (await get(s, '/_sandbox/calls')).body;
    expect((all.calls as { seq: number }[]).map((call) => call.seq)).toEqual([3, 4, 5]);
    expect(all.lastSeq).toBe(5);
    const newer = (await get(s, '/_sandbox/calls?since=4')).body;
    expect(newer.calls).toMatchObject([
      { seq: 5, status: 200, outcome: 'accepted', eventId: 'evt-4', counted: true },
    ]);
    s.reset();
    await post(s, sampleBody(9));
    expect((await get(s, '/_sandbox/calls?since=5')).body.calls).toMatchObject([
      { seq: 6, eventId: 'evt-9' },
    ]);
  });

  it('keeps only the most recent bodies but every eventId', async () => {
    const s = await sandbox({ keepBodies: 2 });
    for (let i = 0; i < 4; i += 1) await post(s, sampleBody(i));
    const accepted = (await get(s, '/_sandbox/accepted?offset=1&limit=10')).body;
    expect(accepted).toMatchObject({ total: 4, offset: 1 });
    expect((accepted.events as { body: unknown }[]).map((event) => event.body)).toEqual([
      null,
      sampleBody(2),
      sampleBody(3),
    ]);
    expect((await post(s, sampleBody(0))).status).toBe(409);
  });

  it('takes fault settings the way `curl -d` sends them (form Content-Type, JSON body)', async () => {
    const s = await sandbox();
    const response = await request(`${s.url}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '{"failRate":0.25,"latencyMs":10}',
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ failRate: 0.25, latencyMs: 10 });
    expect(s.faults()).toMatchObject({ failRate: 0.25, latencyMs: 10 });
  });

  it('rejects unknown or out-of-range fault settings with 400', async () => {
    const s = await sandbox();
    for (const body of ['{"failRate":2}', '{"nope":1}', '{"failStatuses":[404]}', '[']) {
      const response = await request(`${s.url}/_sandbox/faults`, { method: 'POST', body });
      expect(response.statusCode, body).toBe(400);
      expect(((await response.body.json()) as { errors: string[] }).errors.length).toBeGreaterThan(0);
    }
  });

  it('appends accepted bodies, and only those, to the --record file as JSON lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gong-sandbox-'));
    try {
      const file = join(dir, 'accepted.jsonl');
      const s = await sandbox({ recordFile: file });
      await post(s, JSON.stringify(sampleBody(1), null, 2));
      await post(s, sampleBody(1));
      await post(s, '{');
      await post(s, sampleBody(2));
      await s.close();
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([sampleBody(1), sampleBody(2)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
