/**
 * A minimal typed event emitter: the event map is a type, so a misspelt event or a wrong
 * payload is a compile error in the subscriber (metrics, logs, tests).
 */
export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    const stored = listener as (payload: never) => void;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (error) {
        // A broken subscriber is a bug and must be loud, but it must not wedge the limiter's
        // queue mid-decision: rethrow outside the limiter's call stack.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
