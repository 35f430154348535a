import type { Admin } from 'kafkajs';
import type { Clock, Sleep } from '../delivery/limiter-types.ts';

/**
 * Waiting out a group coordinator that is still starting. A broker that has just started has no
 * `__consumer_offsets` yet: the first FindCoordinator creates it and is answered
 * GROUP_COORDINATOR_NOT_AVAILABLE (kafkajs turns that into "Failed to find group coordinator" once
 * it stops retrying), then each of its partitions loads (GROUP_LOAD_IN_PROGRESS, "The coordinator
 * is loading"); a moving leader answers NOT_COORDINATOR_FOR_GROUP. All three are a normal state
 * for a few seconds, not a refusal, so `doctor`, `run` and the local stack's readiness check wait
 * for them instead of reporting an access problem or crashing the consumer.
 */

const startingTypes: ReadonlySet<string> = new Set([
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
]);
const startingNames: ReadonlySet<string> = new Set(['KafkaJSGroupCoordinatorNotFound']);

/** The kafkajs error types (protocol error names such as GROUP_AUTHORIZATION_FAILED) and error class names in an error's chain. */
export function kafkaErrorKinds(error: unknown): string[] {
  const kinds: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const { type } = current as { type?: unknown };
    if (typeof type === 'string') kinds.push(type);
    kinds.push(current.name);
    const next = current as { originalError?: unknown; cause?: unknown };
    current = next.originalError ?? next.cause;
  }
  return kinds;
}

/** The kind that says the coordinator is starting, or undefined when the error is something else. */
export function coordinatorStarting(error: unknown): string | undefined {
  return kafkaErrorKinds(error).find((kind) => startingTypes.has(kind) || startingNames.has(kind));
}

export type CoordinatorWait =
  | { readonly ready: true; readonly waitedMs: number }
  /** `last` is the kind of the last "still starting" answer. */
  | { readonly ready: false; readonly waitedMs: number; readonly last: string };

export interface CoordinatorWaitOptions {
  /** How long to wait for a starting coordinator before giving up, ms. */
  readonly timeoutMs: number;
  readonly clock: Pick<Clock, 'now'>;
  readonly sleep: Sleep;
  readonly signal?: AbortSignal;
  /** Told once, on the first "still starting" answer. */
  readonly onWaiting?: (kind: string) => void;
  /** Pause between attempts, ms (default 250). */
  readonly intervalMs?: number;
}

/**
 * Asks the group's coordinator about the group until it answers. Ends on the first answer (ready),
 * when the coordinator is still starting after `timeoutMs` (not ready, with the last answer), or by
 * throwing any other error at once (an ACL refusal, an unreachable broker: the caller's to report)
 * or the abort reason.
 */
export async function awaitGroupCoordinator(
  admin: Pick<Admin, 'describeGroups'>,
  groupId: string,
  options: CoordinatorWaitOptions,
): Promise<CoordinatorWait> {
  const started = options.clock.now();
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      await admin.describeGroups([groupId]);
      return { ready: true, waitedMs: options.clock.now() - started };
    } catch (error) {
      const kind = coordinatorStarting(error);
      if (kind === undefined) throw error;
      const waitedMs = options.clock.now() - started;
      if (waitedMs >= options.timeoutMs) return { ready: false, waitedMs, last: kind };
      if (!told) options.onWaiting?.(kind);
      told = true;
      await options.sleep(Math.min(options.intervalMs ?? 250, options.timeoutMs - waitedMs), options.signal);
    }
  }
}
