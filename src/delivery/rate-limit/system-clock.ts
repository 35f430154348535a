import { setTimeout as delay } from 'node:timers/promises';
import type { Clock, Sleep } from '../limiter-types.ts';

/** The real clocks, for wiring in main and benchmarks; everything else receives a Clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

export const systemSleep: Sleep = (ms, signal) =>
  delay(Math.max(0, ms), undefined, signal === undefined ? {} : { signal });
