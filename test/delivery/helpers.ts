import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallSlot, LimiterSnapshot, RateLimiter } from '../../src/delivery/limiter-types.ts';
import { DisabledLimiter } from '../../src/delivery/rate-limit/disabled-limiter.ts';

/** A valid Gong body; `n` makes the eventId unique. */
export function sampleBody(n: number | string = 1): Record<string, unknown> {
  return {
    eventId: `evt-${n}`,
    timestamp: '2026-11-24T10:00:00Z',
    eventType: 'page viewed',
    content: { contentTitle: 'Pricing' },
    trackingId: `trk-${n}`,
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** performance.now() when the request arrived. */
  readonly at: number;
}

/** One scripted answer: a status with an optional JSON body and headers, or a socket fault. */
export type Answer =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | 'destroy'
  | 'hang'
  | ((req: IncomingMessage, res: ServerResponse, body: string) => void);

export interface ScriptedServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Answers are used in order; after the last, `fallback` answers. */
  script(answers: Answer[], fallback?: Answer): void;
  close(): Promise<void>;
}

/**
 * A real HTTP server on port 0 that answers each attempt differently, the way undici's own
 * retry tests do, so the client and engine are exercised through real sockets.
 */
export async function startScriptedServer(): Promise<ScriptedServer> {
  let queue: Answer[] = [];
  let fallback: Answer = { status: 200, body: { requestId: 'ok' } };
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: performance.now(),
      });
      const answer = queue.shift() ?? fallback;
      if (answer === 'destroy') {
        req.socket.destroy();
      } else if (answer === 'hang') {
        hanging.add(res);
      } else if (typeof answer === 'function') {
        answer(req, res, body);
      } else {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(answers, nextFallback) {
      queue = [...answers];
      if (nextFallback !== undefined) fallback = nextFallback;
    },
    async close() {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A limiter that never waits and records what the engine told it. */
export class FakeLimiter implements RateLimiter {
  acquired = 0;
  /** Slots whose call was reported on the wire. */
  wired = 0;
  /** Slots the engine said it was done with. */
  released = 0;
  readonly throttles: number[] = [];
  async acquire(signal?: AbortSignal): Promise<CallSlot> {
    signal?.throwIfAborted();
    this.acquired += 1;
    return {
      onWire: () => {
        this.wired += 1;
      },
      release: () => {
        this.released += 1;
      },
    };
  }
  onThrottled(retryAfterMs: number): void {
    this.throttles.push(retryAfterMs);
  }
  snapshot(): LimiterSnapshot {
    // An unlimited fake reports what the real disabled limiter reports.
    return new DisabledLimiter().snapshot();
  }
  async close(): Promise<void> {}
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    wallNow: () => 1_790_000_000_000 + now,
    advance(ms: number) {
      now += ms;
    },
  };
}
