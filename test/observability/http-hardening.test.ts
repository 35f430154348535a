import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startObservabilityServer, type ObservabilityServer } from '../../src/observability/http-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createReadiness } from '../../src/observability/readiness.ts';

/**
 * The observability endpoints face whatever can reach the pod port, so they are held to three
 * promises: slow clients are cut off at the configured timeout, only /metrics, /healthz and
 * /readyz exist, and only GET and HEAD are answered. Requests go over raw sockets, because fetch
 * normalises paths and refuses methods such as TRACE and CONNECT.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(requestTimeoutMs?: number): Promise<ObservabilityServer> {
  const metrics = createMetrics(new Registry(), { version: '9.9.9' });
  const server = await startObservabilityServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    readiness: createReadiness(),
    loopHealth: () => ({ healthy: true, lastDelayMs: 0, sinceLastBeatMs: 1 }),
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
  });
  cleanups.push(() => server.close());
  return server;
}

function open(server: ObservabilityServer): Socket {
  const socket = connect(server.port, '127.0.0.1');
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return socket;
}

/** Sends raw bytes and resolves with everything the server wrote once it closes the socket. */
async function raw(server: ObservabilityServer, request: string): Promise<string> {
  const socket = open(server);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.end(request);
  await closed;
  return received;
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parse(response: string): Parsed {
  const [head = '', ...rest] = response.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/**
 * A slowloris client: it writes one byte of `text` every `everyMs`, so the socket is never
 * idle and only a deadline on the whole request can end it.
 */
function trickle(server: ObservabilityServer, text: string, everyMs: number) {
  const socket = open(server);
  let sent = 0;
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const timer = setInterval(() => {
    if (sent < text.length && socket.writable) socket.write(text.charAt(sent++));
  }, everyMs);
  cleanups.push(() => clearInterval(timer));
  const closed = new Promise<{ sent: number; received: string }>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ sent, received });
    }),
  );
  return { socket, closed };
}

const slowHeaders = `GET /metrics HTTP/1.1\r\nHost: probe\r\nX-Pad: ${'a'.repeat(2_000)}\r\n\r\n`;

describe('observability HTTP hardening', () => {
  it('cuts off a client that sends its headers byte by byte (slowloris) at the timeout', async () => {
    const server = await serve(300);
    // At 20 ms a byte the whole request would take 40 s; the server must not wait for it.
    // Regression guard: without a short connectionsCheckingInterval Node held this socket 30 s.
    const { closed } = trickle(server, slowHeaders, 20);
    const { sent, received } = await closed;
    expect(sent).toBeLessThan(slowHeaders.length / 10);
    expect(parse(received).status).toBe(408);
  });

  it('cuts off a request whose body trickles in, at the same timeout', async () => {
    const server = await serve(300);
    const request = `GET /healthz HTTP/1.1\r\nHost: probe\r\nContent-Length: 2000\r\n\r\n${'b'.repeat(2_000)}`;
    const { closed } = trickle(server, request, 5);
    const { sent } = await closed;
    expect(sent).toBeLessThan(request.length);
  });

  it('keeps answering probes while many slow clients hold sockets', async () => {
    const server = await serve(2_000);
    const slow = Array.from({ length: 50 }, () => trickle(server, slowHeaders, 50));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    await response.text();
    for (const { socket } of slow) socket.destroy();
  });

  it('refuses headers over 8 KiB with 431', async () => {
    const server = await serve();
    const response = await raw(
      server,
      `GET /metrics HTTP/1.1\r\nHost: probe\r\nX-Big: ${'c'.repeat(10_000)}\r\n\r\n`,
    );
    expect(parse(response).status).toBe(431);
  });

  it.each([
    '/',
    '/metrics/',
    '/METRICS',
    '//metrics',
    '/metrics/../healthz',
    '/%6detrics',
    '/healthz/extra',
    '/readyz.json',
    '/debug/pprof',
    '/.env',
    '/favicon.ico',
    '*',
  ])('answers 404 with nothing but the error for %s', async (path) => {
    const server = await serve();
    const response = parse(
      await raw(server, `GET ${path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n`),
    );
    expect(response.status).toBe(404);
    expect(response.body).toBe('{"error":"not found"}\n');
  });

  const methods = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];
  it.each(['/metrics', '/healthz', '/readyz'])('answers only GET and HEAD on %s', async (path) => {
    const server = await serve();
    for (const method of methods) {
      const request = `${method} ${path} HTTP/1.1\r\nHost: probe\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
      const response = parse(await raw(server, request));
      expect(response.status, method).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD');
      // TRACE would echo the request back in a naive server; nothing but the error here.
      expect(response.body).toBe('{"error":"method not allowed"}\n');
    }
  });

  it('drops CONNECT without answering it', async () => {
    const server = await serve();
    const response = await raw(server, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    expect(response).not.toMatch(/^HTTP\/1\.1 2/);
  });

  it('tells nothing about the software in its headers and forbids caching', async () => {
    const server = await serve();
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const response = parse(
        await raw(server, `GET ${path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n`),
      );
      expect(Object.keys(response.headers).sort()).toEqual([
        'cache-control',
        'connection',
        'content-length',
        'content-type',
        'date',
      ]);
      expect(response.headers['cache-control']).toBe('no-store');
    }
  });
});
