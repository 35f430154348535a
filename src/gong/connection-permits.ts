import { BridgeError } from '../errors.ts';

/** One pooled connection reserved for one call; give it back once the answer is read. */
export interface ConnectionPermit {
  /** Idempotent: a second call does nothing. */
  release(): void;
}

interface Waiter {
  readonly resolve: (permit: ConnectionPermit) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
}

/**
 * As many permits as the pool has connections, handed out in arrival order. A caller takes one
 * before it asks the rate limiter for a grant, so a granted call always has a connection to leave
 * on: without it, calls granted while every connection waits on a slow Gong queue inside undici
 * and leave together when connections free up, long after the limiter counted them, and several
 * seconds' worth of grants reach Gong inside one rolling second.
 */
export class ConnectionPermits {
  readonly size: number;
  #inUse = 0;
  readonly #queue: Waiter[] = [];
  #closed = false;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new BridgeError('CONFIG_INVALID', `connection permits must be a whole number >= 1, got ${size}`, {
        context: { variable: 'GONG_MAX_CONNECTIONS' },
      });
    }
    this.size = size;
  }

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  acquire(signal?: AbortSignal): Promise<ConnectionPermit> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    if (this.#inUse < this.size && this.#queue.length === 0) {
      this.#inUse += 1;
      return Promise.resolve(this.#permit());
    }
    return new Promise<ConnectionPermit>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Refuses new callers and rejects the waiting ones; permits already out are still released. */
  close(): void {
    this.#closed = true;
    const error = closedError();
    for (const waiter of this.#queue.splice(0)) {
      waiter.detach();
      waiter.reject(error);
    }
  }

  #permit(): ConnectionPermit {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const next = this.#queue.shift();
        if (next === undefined) {
          this.#inUse -= 1;
          return;
        }
        // The connection passes straight to the next caller in line; the count stays the same.
        next.detach();
        next.resolve(this.#permit());
      },
    };
  }
}

function closedError(): BridgeError {
  return new BridgeError('SHUTTING_DOWN', 'closed while waiting for a connection');
}
