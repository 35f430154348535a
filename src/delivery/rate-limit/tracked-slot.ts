import type { CallSlot, Clock } from '../limiter-types.ts';

/** What a limiter does as one granted call goes on: leaves, is answered, or is dropped unused. */
export interface SlotHooks {
  /** The request started going out at `now` (the first `onWire` only). */
  wired(now: number): void;
  /** The caller is done after the request went out at `wiredAt`: its answer (or error) is in. */
  answered(wiredAt: number, now: number): void;
  /** The caller is done and the request never went out: the grant is handed back. */
  unused(now: number): void;
}

/**
 * A CallSlot that tells the limiter how its call went, once each: `onWire` repeats are ignored
 * (undici re-sending on another connection), so is a second `release`, and so is an `onWire`
 * after `release` (the call is over; it cannot leave any more).
 */
export function trackedSlot(clock: Clock, hooks: SlotHooks): CallSlot {
  let wiredAt: number | null = null;
  let released = false;
  return {
    onWire() {
      if (wiredAt !== null || released) return;
      wiredAt = clock.now();
      hooks.wired(wiredAt);
    },
    release() {
      if (released) return;
      released = true;
      const now = clock.now();
      if (wiredAt === null) hooks.unused(now);
      else hooks.answered(wiredAt, now);
    },
  };
}
