import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fixKafkajsRequestQueue } from '../../src/kafka/request-queue-fix.ts';

interface Queue {
  push(request: {
    entry: {
      correlationId: number;
      apiKey: number;
      apiName: string;
      apiVersion: number;
      resolve: () => void;
      reject: () => void;
    };
    expectResponse: boolean;
    sendRequest: () => void;
  }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}
type QueueClass = new (options: Record<string, unknown>) => Queue;

const RequestQueue = createRequire(import.meta.url)(
  'kafkajs/src/network/requestQueue/index.js',
) as QueueClass;
// Taken before the fix replaces it, to show the upstream behaviour the fix exists for.
const upstreamSchedule = RequestQueue.prototype.scheduleCheckPendingRequests;
const installed = fixKafkajsRequestQueue();

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const newQueue = (maxInFlightRequests: number | null = null): Queue =>
  new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: 'b1:9092',
    logger: quiet,
  });
const request = (correlationId: number, sendRequest: () => void) => ({
  entry: { correlationId, apiKey: 1, apiName: 'Fetch', apiVersion: 11, resolve: () => {}, reject: () => {} },
  expectResponse: true,
  sendRequest,
});

describe('kafkajs request queue fix', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('applies to the installed kafkajs (an upgrade that changes the method fails here)', () => {
    expect(installed).toBe('installed');
    expect(fixKafkajsRequestQueue()).toBe('already-installed');
  });

  it('upstream 2.2.4 still re-arms a timer with nothing queued (else drop the fix)', () => {
    const queue = newQueue();
    upstreamSchedule.call(queue);
    expect(vi.getTimerCount()).toBe(1);
    queue.destroy();
  });

  it('an idle queue arms no timer after a reply (the 1 ms loop that churned the heap)', () => {
    const queue = newQueue();
    const sent = vi.fn();
    queue.push(request(1, sent));
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(sent).toHaveBeenCalledOnce();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a request queued behind a broker throttle goes out when the throttle ends', () => {
    const queue = newQueue();
    queue.maybeThrottle(50);
    const sent = vi.fn();
    queue.push(request(1, sent));
    expect(sent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(49);
    expect(sent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(sent).toHaveBeenCalledOnce();
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a request queued behind the in-flight cap goes out when a reply frees a slot', () => {
    const queue = newQueue(1);
    const first = vi.fn();
    const second = vi.fn();
    queue.push(request(1, first));
    queue.push(request(2, second));
    expect(second).not.toHaveBeenCalled();
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(second).toHaveBeenCalledOnce();
    queue.fulfillRequest({ correlationId: 2, payload: null, size: 0 });
    vi.runOnlyPendingTimers();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves a kafkajs whose method it does not recognise alone', () => {
    const own = () => {};
    class Other {
      scheduleCheckPendingRequests() {
        own();
      }
    }
    const before = Other.prototype.scheduleCheckPendingRequests;
    expect(fixKafkajsRequestQueue(() => Other)).toBe('not-applicable');
    expect(Other.prototype.scheduleCheckPendingRequests).toBe(before);
  });
});
