import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) re-arms a timer in every connection's request queue after
 * each check, even with nothing queued: `throttledUntil` starts at -1, so the delay it computes is
 * minus the epoch time, Node clamps it to 1 ms (and Node 24 prints TimeoutNegativeWarning once),
 * and the check fires again a millisecond later, forever (kafkajs issues #1556, #1704, #1751;
 * the fixes proposed upstream were never released). Each round allocates a timer and a closure:
 * in the soak that was about 1 MiB/s of garbage per idle bridge, half of all it allocated at
 * 3 events/s, and the churn behind V8 growing its heap (docs/reliability.md, "Soak").
 *
 * The replacement schedules a check only while requests are queued, which is the only time a
 * check can do anything: a request is queued only when it could not go out at once (throttled or
 * too many in flight), and every push, reply and timeout checks the queue again.
 */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

interface RequestQueueState {
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

interface RequestQueueClass {
  prototype: { scheduleCheckPendingRequests(this: RequestQueueState): void };
}

/** What the patched method looked like in the kafkajs this was written against. */
const upstreamSignature = 'this.throttledUntil - Date.now()';
const fixed = Symbol.for('gong-bridge.kafkajs-request-queue-fix');

function scheduleCheckPendingRequests(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
  );
}

export type RequestQueueFixResult = 'installed' | 'already-installed' | 'not-applicable';

/**
 * Replaces kafkajs' RequestQueue#scheduleCheckPendingRequests, once per process. Applies only when
 * the installed kafkajs still has the method this fix was written against; otherwise it changes
 * nothing and says so (a unit test fails then, so an upgrade gets this looked at again).
 */
export function fixKafkajsRequestQueue(
  load: (id: string) => unknown = createRequire(import.meta.url),
): RequestQueueFixResult {
  const RequestQueue = load('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
  const proto = RequestQueue.prototype as RequestQueueClass['prototype'] & { [fixed]?: true };
  if (proto[fixed] === true) return 'already-installed';
  const original = proto.scheduleCheckPendingRequests;
  if (typeof original !== 'function' || !original.toString().includes(upstreamSignature)) {
    return 'not-applicable';
  }
  proto.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  proto[fixed] = true;
  return 'installed';
}
