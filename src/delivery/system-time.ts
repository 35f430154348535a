import { setTimeout as delay } from 'node:timers/promises';
import type { Clock, Sleep } from './limiter-types.ts';

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
