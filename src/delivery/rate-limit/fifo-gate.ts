import { BridgeError } from '../../errors.ts';
import { untrackedSlot, type CallSlot, type Sleep } from '../limiter-types.ts';
import type { Decision } from './limiter-core.ts';

export interface FifoGateOptions {
  /** Decides for the caller at the head of the queue, and records the start when it allows. */
  readonly attempt: () => Decision | Promise<Decision>;
  readonly sleep: Sleep;
  readonly onGrant?: (waiter: { readonly enqueuedAt: number }) => void;
  readonly onWait?: (decision: Extract<Decision, { allow: false }>) => void;
  /** Monotonic now, to report how long each caller queued. */
  readonly now: () => number;
}

interface Waiter {
  readonly enqueuedAt: number;
  readonly resolve: (slot: CallSlot) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
}

/**
 * Hands out starts to callers strictly in arrival order. One loop serves the head of the queue:
 * it asks `attempt`, grants when allowed, and otherwise sleeps exactly the wait it was told, so
 * a slot is taken the moment it opens and no caller can overtake another. Callers that abort
 * leave the queue at once; when nobody is left the loop stops sleeping.
 */
export class FifoGate {
  readonly #options: FifoGateOptions;
  readonly #queue: Waiter[] = [];
  #running = false;
  #sleeping: AbortController | undefined;
  #closed = false;

  constructor(options: FifoGateOptions) {
    this.#options = options;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  acquire(signal?: AbortSignal): Promise<CallSlot> {
    if (this.#closed) return Promise.reject(shuttingDown());
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    return new Promise<CallSlot>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#queue.indexOf(waiter);
        if (index === -1) return;
        this.#queue.splice(index, 1);
        reject(signal?.reason);
        // The loop may be sleeping for a head that has just left: wake it to re-decide.
        this.wake();
      };
      const waiter: Waiter = {
        enqueuedAt: this.#options.now(),
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      if (!this.#running) void this.#run();
    });
  }

  /** Cuts the current sleep short so the head is decided again now (state changed under it). */
  wake(): void {
    this.#sleeping?.abort();
  }

  close(): void {
    this.#closed = true;
    const error = shuttingDown();
    for (const waiter of this.#queue.splice(0)) {
      waiter.detach();
      waiter.reject(error);
    }
    this.wake();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        let decision: Decision;
        try {
          // A synchronous decision is granted in the same tick it is made, so the start the caller
          // sees is not delayed past the moment the limiter counted it.
          const pending = this.#options.attempt();
          decision = pending instanceof Promise ? await pending : pending;
        } catch (error) {
          // `attempt` handles every expected failure itself; anything else is a bug, and every
          // waiter must hear of it rather than hang.
          for (const waiter of this.#queue.splice(0)) {
            waiter.detach();
            waiter.reject(error);
          }
          return;
        }
        if (decision.allow) {
          // The head may have aborted during an async attempt; the slot then goes to the next one,
          // which is why the slot travels with the decision rather than with the waiter.
          const waiter = this.#queue.shift();
          if (waiter !== undefined) {
            waiter.detach();
            this.#options.onGrant?.(waiter);
            waiter.resolve(decision.slot ?? untrackedSlot);
          } else {
            // Everyone left while the grant was being decided: nobody will use it, hand it back.
            decision.slot?.release();
          }
          continue;
        }
        if (this.#queue.length === 0) break;
        this.#options.onWait?.(decision);
        const controller = new AbortController();
        this.#sleeping = controller;
        try {
          await this.#options.sleep(decision.waitMs, controller.signal);
        } catch {
          // Woken early on purpose (abort, close, state change): decide again.
        } finally {
          this.#sleeping = undefined;
        }
      }
    } finally {
      this.#running = false;
    }
  }
}

function shuttingDown(): BridgeError {
  return new BridgeError('SHUTTING_DOWN', 'the rate limiter is closed');
}
