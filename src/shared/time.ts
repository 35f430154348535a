import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time, at the bottom of the layers: every folder that waits or measures (the limiter, the
 * engine, the Gong client, the Kafka runtime, the sandbox) takes a Clock and a Sleep, so tests
 * move time by hand. Only the wiring (commands, benches, test helpers) uses the system ones below.
 */

/** Monotonic milliseconds plus wall-clock milliseconds, injected so tests move time by hand. */
export interface Clock {
  /** Monotonic milliseconds (performance.now()-like); never goes backwards. */
  now(): number;
  /** Wall-clock epoch milliseconds (Date.now()-like); may jump. Used for UTC-day windows and reports. */
  wallNow(): number;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real clock, for wiring in commands; modules receive a Clock and never read time themselves. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

/** The real sleep; rejects with the signal's reason when aborted. */
export const systemSleep: Sleep = async (ms, signal) => {
  if (ms <= 0) {
    signal?.throwIfAborted();
    return;
  }
  await delay(ms, undefined, signal === undefined ? undefined : { signal });
};
