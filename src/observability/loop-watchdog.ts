import type { Clock } from '../shared/time.ts';

/**
 * Liveness of the event loop. A heartbeat timer records when it last ran; /healthz fails when the
 * last beat is too old or when the last beat arrived far later than scheduled. The second check
 * matters because a request can only be answered once the loop is free again: right after a
 * 30 s stall the handler runs and would otherwise say "fine", so the stall is remembered for
 * one more heartbeat.
 */
export interface LoopWatchdog {
  readonly check: () => LoopHealth;
  stop(): void;
}

export interface LoopHealth {
  readonly healthy: boolean;
  /** How late the last heartbeat ran, ms. */
  readonly lastDelayMs: number;
  /** Since the last heartbeat, ms. */
  readonly sinceLastBeatMs: number;
}

export interface LoopWatchdogOptions {
  readonly clock: Pick<Clock, 'now'>;
  /** Heartbeat period; default 500 ms. */
  readonly intervalMs?: number;
  /** A heartbeat this late (or missing this long) means the loop is stuck; default 5 s. */
  readonly stallMs?: number;
  /** Injected for tests; default setInterval (unref'd so it never keeps the process alive). */
  readonly every?: (ms: number, beat: () => void) => () => void;
}

export function startLoopWatchdog(options: LoopWatchdogOptions): LoopWatchdog {
  const intervalMs = options.intervalMs ?? 500;
  const stallMs = options.stallMs ?? 5_000;
  const every =
    options.every ??
    ((ms: number, beat: () => void) => {
      const timer = setInterval(beat, ms);
      timer.unref();
      return () => clearInterval(timer);
    });
  let lastBeat = options.clock.now();
  let lastDelayMs = 0;
  const stop = every(intervalMs, () => {
    const now = options.clock.now();
    lastDelayMs = Math.max(0, now - lastBeat - intervalMs);
    lastBeat = now;
  });
  return {
    check() {
      const sinceLastBeatMs = options.clock.now() - lastBeat;
      const healthy = sinceLastBeatMs < intervalMs + stallMs && lastDelayMs < stallMs;
      return { healthy, lastDelayMs, sinceLastBeatMs };
    },
    stop,
  };
}
