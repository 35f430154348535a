import type { Clock, Sleep } from '../../shared/time.ts';
import type { CallSlot, LimiterEventMap, LimiterSnapshot, ObservableRateLimiter } from '../limiter-types.ts';
import type { DailyWindow, Instant } from './daily-budget.ts';
import { FifoGate } from './fifo-gate.ts';
import { commit, decide, LimiterCore, snapshotOf, type Decision } from './limiter-core.ts';
import type { StartHandle } from './per-second-window.ts';
import { TypedEmitter } from '../../shared/typed-emitter.ts';

export interface LocalLimiterOptions {
  readonly ratePerSecond: number;
  /** Back-to-back starts after an idle spell, 1..floor(rate); defaults to floor(rate). */
  readonly burst?: number | undefined;
  readonly dailyLimit: number;
  readonly dailyWindow: DailyWindow;
  /** Extra ms on the 1 s window to absorb network jitter; default 0. */
  readonly windowMarginMs?: number | undefined;
  readonly clock: Clock;
  readonly sleep: Sleep;
}

/** Retry-After that is missing or unreadable still pauses for one full window. */
export function normaliseRetryAfter(retryAfterMs: number, windowMs: number): number {
  return Number.isFinite(retryAfterMs) ? Math.max(0, retryAfterMs) : windowMs;
}

/** A slot that moves its start to the first `onWire`, on `clock`. */
export function wireSlot(restamp: (now: number) => void, clock: Clock): CallSlot {
  let reported = false;
  return {
    onWire() {
      if (reported) return;
      reported = true;
      restamp(clock.now());
    },
    // Refunds of grants that never left are not implemented yet (issue 14, item 2).
    release() {},
  };
}

/** The slot of a start recorded in a local core: `onWire` moves it in that core's window. */
export function coreSlot(core: LimiterCore, handle: StartHandle, clock: Clock): CallSlot {
  return wireSlot((now) => core.window.restamp(handle, now), clock);
}

/** The limiter for a single replica: the pure core behind a FIFO, abortable acquire. */
export class LocalLimiter implements ObservableRateLimiter {
  readonly #clock: Clock;
  readonly #core: LimiterCore;
  readonly #gate: FifoGate;
  readonly #events = new TypedEmitter<LimiterEventMap>();
  #exhaustedReported = false;
  #grantedAt = 0;

  constructor(options: LocalLimiterOptions) {
    this.#clock = options.clock;
    this.#core = new LimiterCore({
      ratePerSecond: options.ratePerSecond,
      burst: options.burst,
      windowMarginMs: options.windowMarginMs,
      dailyLimit: options.dailyLimit,
      dailyWindow: options.dailyWindow,
      at: this.#at(),
    });
    this.#gate = new FifoGate({
      attempt: () => this.#attempt(),
      sleep: options.sleep,
      now: () => this.#clock.now(),
      onWait: (decision) => this.#events.emit('wait', { waitMs: decision.waitMs, reason: decision.reason }),
      onGrant: (waiter) =>
        this.#events.emit('acquired', {
          waitedMs: this.#grantedAt - waiter.enqueuedAt,
          grantedAt: this.#grantedAt,
          serverTimeMs: null,
        }),
    });
  }

  acquire(signal?: AbortSignal): Promise<CallSlot> {
    return this.#gate.acquire(signal);
  }

  onThrottled(retryAfterMs: number): void {
    const at = this.#at();
    const ms = normaliseRetryAfter(retryAfterMs, this.#core.window.policy.windowMs);
    const untilMono = this.#core.throttle(at, ms);
    this.#events.emit('throttled', { retryAfterMs: ms, until: at.wall + (untilMono - at.mono) });
  }

  snapshot(): LimiterSnapshot {
    return snapshotOf(this.#core, this.#at(), 'local');
  }

  on<K extends keyof LimiterEventMap>(event: K, listener: (payload: LimiterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async close(): Promise<void> {
    this.#gate.close();
  }

  #attempt(): Decision {
    const at = this.#at();
    const decision = decide(this.#core, at);
    if (decision.allow) {
      const handle = commit(this.#core, at);
      this.#grantedAt = at.mono;
      this.#exhaustedReported = false;
      return { allow: true, slot: coreSlot(this.#core, handle, this.#clock) };
    } else if (decision.reason === 'quota-exhausted' && !this.#exhaustedReported) {
      this.#exhaustedReported = true;
      this.#events.emit('quota-exhausted', {
        until: at.wall + decision.waitMs,
        dailyLimit: this.#core.daily.limit,
      });
    }
    return decision;
  }

  #at(): Instant {
    return { mono: this.#clock.now(), wall: this.#clock.wallNow() };
  }
}
