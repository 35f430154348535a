import { BridgeError } from '../errors.ts';

/** One pooled connection reserved for one call; give it back once the answer is read. */
export interface ConnectionPermit {
  /** Idempotent: a second call does nothing. */
  release(): void;
}

interface Waiter {
  readonly resolve: (permit: ConnectionPermit) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
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
  #queue: Waiter[] = [];
  #closed = false;
  /**
   * The waiters of each signal, behind one abort listener per signal: the records of a partition
   * share its signal, and an EventTarget listener added and removed per waiting call cost more
   * than the wait itself in `run` (bench/pipeline.bench.ts, MAX_IN_FLIGHT above the pool size).
   */
  readonly #bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

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
      const waiter: Waiter = { resolve, reject, signal };
      this.#queue.push(waiter);
      if (signal !== undefined) this.#waitersOf(signal).add(waiter);
    });
  }

  #waitersOf(signal: AbortSignal): Set<Waiter> {
    const known = this.#bySignal.get(signal);
    if (known !== undefined) return known;
    const waiters = new Set<Waiter>();
    this.#bySignal.set(signal, waiters);
    signal.addEventListener(
      'abort',
      () => {
        this.#bySignal.delete(signal);
        this.#queue = this.#queue.filter((waiter) => !waiters.has(waiter));
        for (const waiter of waiters) waiter.reject(signal.reason);
      },
      { once: true },
    );
    return waiters;
  }

  /** A waiter leaves the line (served or closed): its signal no longer concerns it. */
  #detach(waiter: Waiter): void {
    if (waiter.signal !== undefined) this.#bySignal.get(waiter.signal)?.delete(waiter);
  }

  /** Refuses new callers and rejects the waiting ones; permits already out are still released. */
  close(): void {
    this.#closed = true;
    const error = closedError();
    for (const waiter of this.#queue.splice(0)) {
      this.#detach(waiter);
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
        this.#detach(next);
        next.resolve(this.#permit());
      },
    };
  }
}

function closedError(): BridgeError {
  return new BridgeError('SHUTTING_DOWN', 'closed while waiting for a connection');
}
