import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { LoopHealth } from './loop-watchdog.ts';
import type { Readiness } from './readiness.ts';

/**
 * /metrics, /healthz and /readyz, and nothing else. The server is internal (probes and the
 * Prometheus scraper), so it answers GET and HEAD only and keeps clients on a short leash:
 * a slow or idle client cannot hold a socket, because the kubelet's probes must keep getting
 * through whatever else connects.
 */

export interface ObservabilityServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: Readiness;
  readonly loopHealth: () => LoopHealth;
  /** Told about a failed /metrics collection; it is answered 500. */
  readonly onError?: (error: unknown) => void;
  /** Default 5 s: headers and the whole request must arrive within it. */
  readonly requestTimeoutMs?: number;
}

export interface ObservabilityServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const jsonType = 'application/json; charset=utf-8';

export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const server: Server = createServer(
    {
      headersTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      // Node enforces the two timeouts above only when it sweeps connections, every 30 s by
      // default: a client trickling header bytes (slowloris) kept a socket 30 s past a 500 ms
      // limit. Sweeping at a fraction of the timeout makes the limit the real one.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 4))),
      // Scrapes come every few seconds; an idle keep-alive socket beyond that only costs a file.
      keepAliveTimeout: Math.min(timeoutMs, 5_000),
      maxHeaderSize: 8 * 1024,
    },
    (request, response) => {
      void handle(options, request, response);
    },
  );
  // A socket with no request at all is closed too (headersTimeout only starts with the request).
  server.setTimeout(timeoutMs, (socket) => socket.destroy());
  server.maxRequestsPerSocket = 100;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  options: ObservabilityServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
) {
  const method = request.method ?? 'GET';
  const path = (request.url ?? '/').split('?')[0];
  const head = method === 'HEAD';
  const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
    response.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...extra,
    });
    response.end(head ? undefined : body);
  };
  const json = (status: number, value: unknown, extra?: Record<string, string>) =>
    send(status, jsonType, `${JSON.stringify(value)}\n`, extra);

  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    json(404, { error: 'not found' });
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    json(405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    return;
  }
  switch (path) {
    case '/metrics':
      try {
        send(200, options.registry.contentType, await options.registry.metrics());
      } catch (error) {
        options.onError?.(error);
        json(500, { error: 'metrics collection failed' });
      }
      return;
    case '/healthz': {
      const loop = options.loopHealth();
      json(loop.healthy ? 200 : 503, {
        status: loop.healthy ? 'ok' : 'event loop stalled',
        eventLoop: {
          lastDelayMs: Math.round(loop.lastDelayMs),
          sinceLastBeatMs: Math.round(loop.sinceLastBeatMs),
        },
      });
      return;
    }
    case '/readyz': {
      const report = options.readiness.report();
      json(report.ready ? 200 : 503, report);
      return;
    }
  }
}
