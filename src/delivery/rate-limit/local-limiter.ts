import type {
  CallSlot,
  Clock,
  LimiterEventMap,
  LimiterSnapshot,
  ObservableRateLimiter,
  Sleep,
} from '../limiter-types.ts';
import type { DailyWindow, Instant, SpentMinute } from './daily-budget.ts';
import { FifoGate } from './fifo-gate.ts';
import {
  commit,
  decide,
  LimiterCore,
  refund,
  settle,
  snapshotOf,
  wire,
  type Decision,
  type Grant,
} from './limiter-core.ts';
import { trackedSlot } from './tracked-slot.ts';
import { TypedEmitter } from './typed-emitter.ts';

export interface LocalLimiterOptions {
  readonly ratePerSecond: number;
  /** Back-to-back starts after an idle spell, 1..floor(rate); defaults to floor(rate). */
  readonly burst?: number | undefined;
  readonly dailyLimit: number;
  readonly dailyWindow: DailyWindow;
  /**
   * The most margin a call keeps on its 1 s window to absorb network jitter; each call keeps what
   * its round trip shows it needs (see WindowMargin). Default 0.
   */
  readonly windowMarginMs?: number | undefined;
  readonly clock: Clock;
  readonly sleep: Sleep;
}

/** Retry-After that is missing or unreadable still pauses for one full window. */
export function normaliseRetryAfter(retryAfterMs: number, windowMs: number): number {
  return Number.isFinite(retryAfterMs) ? Math.max(0, retryAfterMs) : windowMs;
}

/** What a core slot tells its limiter besides the core itself. */
export interface CoreSlotHooks {
  /** The grant went back to the core (its call never left). */
  readonly refunded?: ((grant: Grant) => void) | undefined;
  /** The core's state changed in a way that may open a slot now: re-decide the queue's head. */
  readonly changed?: (() => void) | undefined;
}

/**
 * The slot of a start recorded in a local core: `onWire` moves it to when the call left, its
 * answer settles its margin, and a release without `onWire` hands the grant back.
 */
export function coreSlot(core: LimiterCore, grant: Grant, clock: Clock, hooks: CoreSlotHooks = {}): CallSlot {
  return trackedSlot(clock, {
    wired: (now) => wire(core, grant, now),
    answered: (wiredAt, now) => {
      const roundTrip = now - wiredAt;
      if (settle(core, grant, wiredAt, core.margin.observe(roundTrip))) hooks.changed?.();
    },
    unused: (now) => {
      refund(core, grant, { mono: now, wall: clock.wallNow() });
      hooks.refunded?.(grant);
      hooks.changed?.();
    },
  });
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

  /**
   * Charges the daily budget with calls made before this process started, as a previous process
   * left them (see src/kafka/quota-ledger.ts). Returns how many still count in the window.
   */
  restoreSpent(spent: readonly SpentMinute[]): number {
    const restored = this.#core.daily.restore(spent, this.#at());
    // The head may be waiting on nothing yet; it must see the charge before its next decision.
    this.#gate.wake();
    return restored;
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
      const grant = commit(this.#core, at);
      this.#grantedAt = at.mono;
      this.#exhaustedReported = false;
      return {
        allow: true,
        slot: coreSlot(this.#core, grant, this.#clock, {
          refunded: (refunded) =>
            this.#events.emit('refunded', {
              grantedAt: refunded.at.mono,
              grantedWallAt: refunded.at.wall,
            }),
          // A refund or a smaller margin may open the slot the head is sleeping for.
          changed: () => this.#gate.wake(),
        }),
      };
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
