import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LookupFunction } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { classifyTransport } from '../../src/delivery/outcome-policy.ts';
import { systemClock } from '../../src/delivery/system-time.ts';
import {
  authFromConfig,
  createGongClient,
  type GongClient,
  type GongClientOptions,
} from '../../src/gong/client.ts';
import { userAgent } from '../../src/version.ts';
import { manualClock, startScriptedServer, type ScriptedServer } from '../delivery/helpers.ts';

let server: ScriptedServer;
const clients: GongClient[] = [];

beforeEach(async () => {
  server = await startScriptedServer();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server.close();
});

function client(overrides: Partial<GongClientOptions> = {}): GongClient {
  const created = createGongClient({
    baseUrl: server.url,
    auth: { kind: 'basic', accessKey: 'key', accessKeySecret: 'secret' },
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
    maxConnections: 4,
    clock: systemClock,
    ...overrides,
  });
  clients.push(created);
  return created;
}

describe('Gong client', () => {
  it('posts JSON to /v2/digital-interaction with Basic auth and our User-Agent', async () => {
    server.script([{ status: 200, body: { requestId: 'r-1' } }]);
    const result = await client().postDigitalInteraction('{"eventId":"a"}');
    expect(result).toMatchObject({ kind: 'response', status: 200, requestId: 'r-1' });
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/v2/digital-interaction');
    expect(request?.headers.authorization).toBe(`Basic ${Buffer.from('key:secret').toString('base64')}`);
    expect(request?.headers['user-agent']).toBe(userAgent);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toBe('{"eventId":"a"}');
  });

  it('sends a bearer token', async () => {
    await client({ auth: { kind: 'bearer', token: 'tok-1' } }).postDigitalInteraction('{}');
    expect(server.requests[0]?.headers.authorization).toBe('Bearer tok-1');
  });

  it('captures requestId, errors[] and Retry-After from an error answer', async () => {
    server.script([
      { status: 400, body: { requestId: 'r-400', errors: ['eventType: required'] } },
      { status: 429, body: { requestId: 'r-429' }, headers: { 'retry-after': '2' } },
    ]);
    const c = client();
    expect(await c.postDigitalInteraction('{}')).toMatchObject({
      status: 400,
      requestId: 'r-400',
      errors: ['eventType: required'],
    });
    expect(await c.postDigitalInteraction('{}')).toMatchObject({
      status: 429,
      requestId: 'r-429',
      retryAfterMs: 2_000,
    });
  });

  it('reads a chunked answer without Content-Length', async () => {
    server.script([
      (_req, res) => {
        res.writeHead(422, { 'content-type': 'application/json' });
        res.write('{"requestId":"r-chunked",');
        res.end('"errors":["content: required"]}');
      },
    ]);
    expect(await client().postDigitalInteraction('{}')).toMatchObject({
      status: 422,
      requestId: 'r-chunked',
      errors: ['content: required'],
    });
  });

  it('keeps an excerpt of a non-JSON answer as the error', async () => {
    server.script([(_req, res) => res.writeHead(502).end('<html>bad gateway</html>')]);
    expect(await client().postDigitalInteraction('{}')).toMatchObject({
      status: 502,
      errors: ['non-JSON answer: <html>bad gateway</html>'],
    });
  });

  it('keeps the first 64 KiB of a huge answer and reads the rest, so the connection serves the next call', async () => {
    const huge = `<html>${'x'.repeat(1_000_000)}</html>`;
    const ports: (number | undefined)[] = [];
    server.script([
      (req, res) => {
        ports.push(req.socket.remotePort);
        res.writeHead(502, { 'content-type': 'text/html' }).end(huge);
      },
      (req, res) => {
        ports.push(req.socket.remotePort);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"requestId":"r-next"}');
      },
    ]);
    const c = client({ maxConnections: 1 });
    const first = await c.postDigitalInteraction('{}');
    expect(first).toMatchObject({ status: 502, errors: [`non-JSON answer: ${huge.slice(0, 200)}`] });
    expect(await c.postDigitalInteraction('{}')).toMatchObject({ status: 200, requestId: 'r-next' });
    expect(ports[0]).toBeDefined();
    expect(ports[1]).toBe(ports[0]);
  });

  it('skips an informational answer (103 Early Hints) and reads the final one', async () => {
    server.script([
      (_req, res) => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload' });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"requestId":"r-after-103"}');
      },
    ]);
    expect(await client().postDigitalInteraction('{}')).toMatchObject({
      status: 200,
      requestId: 'r-after-103',
    });
  });

  it('keeps a base URL path prefix', async () => {
    await client({ baseUrl: `${server.url}/gateway/gong/` }).postDigitalInteraction('{}');
    expect(server.requests[0]?.url).toBe('/gateway/gong/v2/digital-interaction');
  });

  it('talks to a tenant host such as us-12345.api.gong.io', async () => {
    const port = new URL(server.url).port;
    const lookup = ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
      if (opts.all === true) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    }) as unknown as LookupFunction;
    await client({ baseUrl: `http://us-12345.api.gong.io:${port}`, lookup }).postDigitalInteraction('{}');
    expect(server.requests[0]?.headers.host).toBe(`us-12345.api.gong.io:${port}`);
  });

  it('reports when a request goes on the wire: after connection set-up, once, and never when it cannot connect', async () => {
    const port = new URL(server.url).port;
    // A slow name lookup stands in for a cold connection's DNS, TCP and TLS set-up.
    const slowLookup = ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
      setTimeout(() => {
        if (opts.all === true) cb(null, [{ address: '127.0.0.1', family: 4 }]);
        else cb(null, '127.0.0.1', 4);
      }, 150);
    }) as unknown as LookupFunction;
    const gong = client({ baseUrl: `http://us-12345.api.gong.io:${port}`, lookup: slowLookup });
    const wiredAfter: number[] = [];
    const post = async () => {
      const started = performance.now();
      const result = await gong.postDigitalInteraction('{}', undefined, () =>
        wiredAfter.push(performance.now() - started),
      );
      expect(result).toMatchObject({ kind: 'response', status: 200 });
    };
    await post();
    // undici checks an idle socket for one turn of the loop before reusing it; after that the
    // pool's open connection takes the second call at once.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await post();
    expect(wiredAfter).toHaveLength(2);
    expect(wiredAfter[0]).toBeGreaterThanOrEqual(145);
    expect(wiredAfter[1]).toBeLessThan(100);

    const url = server.url;
    await server.close();
    server = await startScriptedServer();
    let refusedWired = 0;
    const refused = await client({ baseUrl: url }).postDigitalInteraction('{}', undefined, () => {
      refusedWired += 1;
    });
    expect(refused).toMatchObject({ kind: 'transport', code: 'ECONNREFUSED' });
    expect(refusedWired).toBe(0);
  });

  it('a headers timeout is a transport failure the policy retries', async () => {
    server.script(['hang']);
    const result = await client({ headersTimeoutMs: 100 }).postDigitalInteraction('{}');
    expect(result).toMatchObject({ kind: 'transport', code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(result.kind === 'transport' && classifyTransport(result.code).outcome).toBe('transient');
  });

  it('a reset connection and a refused connection are transport failures', async () => {
    server.script(['destroy']);
    const reset = await client().postDigitalInteraction('{}');
    expect(reset.kind).toBe('transport');
    expect(reset.kind === 'transport' && classifyTransport(reset.code).unknown).toBeUndefined();

    const url = server.url;
    await server.close();
    server = await startScriptedServer();
    const refused = await client({ baseUrl: url }).postDigitalInteraction('{}');
    expect(refused).toMatchObject({ kind: 'transport', code: 'ECONNREFUSED' });
  });

  it('a call that never reached a connection (DNS failure, connect timeout) never reports the wire', async () => {
    let wired = 0;
    const onWire = () => (wired += 1);
    const unknownHost = ((_host: string, _opts: unknown, cb: (error: Error) => void) => {
      cb(Object.assign(new Error('getaddrinfo ENOTFOUND us-0.api.gong.io'), { code: 'ENOTFOUND' }));
    }) as unknown as LookupFunction;
    const dns = await client({
      baseUrl: 'http://us-0.api.gong.io:1',
      lookup: unknownHost,
    }).postDigitalInteraction('{}', undefined, onWire);
    expect(dns).toMatchObject({ kind: 'transport', code: 'ENOTFOUND' });
    // A lookup that never answers: the connect timeout fires before any connection exists.
    const silent = (() => undefined) as unknown as LookupFunction;
    const timedOut = await client({
      baseUrl: 'http://us-0.api.gong.io:1',
      lookup: silent,
      connectTimeoutMs: 100,
    }).postDigitalInteraction('{}', undefined, onWire);
    expect(timedOut).toMatchObject({ kind: 'transport', code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(wired).toBe(0);
  });

  it('never puts credentials in a failure message', async () => {
    server.script(['destroy']);
    const result = await client({
      auth: { kind: 'basic', accessKey: 'AKEY123', accessKeySecret: 'SUPERSECRET' },
    }).postDigitalInteraction('{}');
    expect(JSON.stringify(result)).not.toMatch(/AKEY123|SUPERSECRET|QUtFWTEyMz/);
  });

  it('rejects at once when the caller aborts while the call waits for a connection, and never sends it', async () => {
    server.script(['hang']);
    const c = client({ maxConnections: 1, headersTimeoutMs: 300 });
    const first = c.postDigitalInteraction('{}');
    const controller = new AbortController();
    let wired = 0;
    const queued = c.postDigitalInteraction('{"eventId":"queued"}', controller.signal, () => (wired += 1));
    const settled: string[] = [];
    void first.then(() => settled.push('first'));
    void queued.catch(() => settled.push('queued'));
    setTimeout(() => controller.abort(new Error('revoked')), 50);
    await expect(queued).rejects.toThrow('revoked');
    expect(await first).toMatchObject({ kind: 'transport', code: 'UND_ERR_HEADERS_TIMEOUT' });
    // At the abort, not once the connection freed up (the first call's 300 ms headers timeout).
    expect(settled).toEqual(['queued', 'first']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests.map((request) => request.body)).toEqual(['{}']);
    expect(wired).toBe(0);
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    server.script(['hang']);
    const controller = new AbortController();
    const pending = client().postDigitalInteraction('{}', controller.signal);
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(pending).rejects.toThrow('stop');
  });
});

describe('bearer token file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gong-token-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('re-reads a rotated token without a restart, checking the file at most once per second', async () => {
    const path = join(dir, 'token');
    await writeFile(path, 'first-token\n');
    const clock = manualClock();
    const c = client({ auth: { kind: 'bearer-file', path }, clock });
    await c.postDigitalInteraction('{}');
    // Rotation the way Kubernetes does it: a new file renamed over the old one.
    await writeFile(join(dir, 'next'), 'second-token-longer\n');
    await rename(join(dir, 'next'), path);
    await c.postDigitalInteraction('{}');
    clock.advance(1_000);
    await c.postDigitalInteraction('{}');
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer first-token',
      'Bearer first-token',
      'Bearer second-token-longer',
    ]);
  });

  it('after invalidateCredentials (a 401) the file is read again at once', async () => {
    const path = join(dir, 'token');
    await writeFile(path, 'old');
    const clock = manualClock();
    const c = client({ auth: { kind: 'bearer-file', path }, clock });
    await c.postDigitalInteraction('{}');
    await writeFile(path, 'new');
    c.invalidateCredentials();
    await c.postDigitalInteraction('{}');
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer old', 'Bearer new']);
  });

  it('a missing token file is a token-unavailable failure, and no call is made', async () => {
    const c = client({ auth: { kind: 'bearer-file', path: join(dir, 'absent') }, clock: manualClock() });
    const result = await c.postDigitalInteraction('{}');
    expect(result).toMatchObject({ kind: 'transport', code: 'GONG_TOKEN_UNAVAILABLE' });
    expect(result.kind === 'transport' && classifyTransport(result.code).outcome).toBe('halt');
    expect(server.requests).toHaveLength(0);
  });
});

describe('authFromConfig', () => {
  it('picks Basic, bearer or a token file, and refuses ambiguity without echoing secrets', () => {
    expect(authFromConfig(loadConfig({ GONG_ACCESS_KEY: 'k', GONG_ACCESS_KEY_SECRET: 's' }))).toEqual({
      kind: 'basic',
      accessKey: 'k',
      accessKeySecret: 's',
    });
    expect(authFromConfig(loadConfig({ GONG_BEARER_TOKEN: 't' }))).toEqual({ kind: 'bearer', token: 't' });
    expect(authFromConfig(loadConfig({ GONG_BEARER_TOKEN_FILE: '/run/token' }, () => 'from-file'))).toEqual({
      kind: 'bearer-file',
      path: '/run/token',
    });
    expect(() => authFromConfig(loadConfig({ GONG_ACCESS_KEY: 'k' }))).toThrow(/GONG_ACCESS_KEY_SECRET/);
    expect(() => authFromConfig(loadConfig({}))).toThrow(/credentials are required/);
    try {
      authFromConfig(
        loadConfig({ GONG_ACCESS_KEY: 'k', GONG_ACCESS_KEY_SECRET: 'hunter2', GONG_BEARER_TOKEN: 'tok9' }),
      );
    } catch (error) {
      expect(String(error)).not.toMatch(/hunter2|tok9/);
    }
  });
});
