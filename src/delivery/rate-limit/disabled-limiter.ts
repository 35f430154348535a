import {
  untrackedSlot,
  type CallSlot,
  type LimiterEventMap,
  type LimiterSnapshot,
  type ObservableRateLimiter,
} from '../limiter-types.ts';
import { TypedEmitter } from '../../shared/typed-emitter.ts';

/**
 * No limit at all (GONG_LIMITER_DISABLED): for benchmarks against an unthrottled sandbox only.
 * It still honours an aborted signal, so shutdown behaves the same as with a real limiter.
 */
export class DisabledLimiter implements ObservableRateLimiter {
  readonly #events = new TypedEmitter<LimiterEventMap>();

  async acquire(signal?: AbortSignal): Promise<CallSlot> {
    if (signal?.aborted === true) throw signal.reason;
    return untrackedSlot;
  }

  onThrottled(_retryAfterMs: number): void {
    // Nothing to pause: with the limiter off a 429 is the caller's backoff's business.
  }

  snapshot(): LimiterSnapshot {
    return {
      tokensAvailable: Number.POSITIVE_INFINITY,
      ratePerSecond: Number.POSITIVE_INFINITY,
      dailyLimit: Number.POSITIVE_INFINITY,
      dailyRemaining: Number.POSITIVE_INFINITY,
      projectedExhaustionAt: null,
      pausedUntil: null,
      pauseReason: null,
      mode: 'disabled',
    };
  }

  on<K extends keyof LimiterEventMap>(event: K, listener: (payload: LimiterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async close(): Promise<void> {}
}
