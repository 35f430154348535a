import { TypedEmitter } from '../shared/typed-emitter.ts';

/**
 * A dependency that can stop every record at once: the dead-letter topic or the receipts topic
 * refusing writes, the schema registry refusing our credentials. Nothing about the records is wrong, so none may be
 * dead-lettered or skipped; the runtime pauses fetching and reports unready while any source is
 * halted, and the source itself probes until the dependency works again.
 */
export type HaltSourceName = 'dlq' | 'registry-auth' | 'receipts';

export interface HaltEventMap {
  /** The dependency refused in a way no retry of the same request can fix. Emitted once per halt. */
  halted: { readonly error: string };
  /** A probe succeeded; emitted once, after `halted`. */
  recovered: { readonly haltedMs: number };
}

export interface HaltSource {
  readonly name: HaltSourceName;
  isHalted(): boolean;
  on<K extends keyof HaltEventMap>(event: K, listener: (payload: HaltEventMap[K]) => void): () => void;
}

/** The state behind a HaltSource: transitions are reported once, however often they are seen. */
export class HaltState extends TypedEmitter<HaltEventMap> implements HaltSource {
  readonly name: HaltSourceName;
  readonly #now: () => number;
  #since: number | undefined;

  constructor(name: HaltSourceName, now: () => number) {
    super();
    this.name = name;
    this.#now = now;
  }

  isHalted(): boolean {
    return this.#since !== undefined;
  }

  /** The dependency refused; true when this starts a halt. */
  halt(error: string): boolean {
    if (this.#since !== undefined) return false;
    this.#since = this.#now();
    this.emit('halted', { error });
    return true;
  }

  /** The dependency answered normally; true when this ends a halt. */
  recover(): boolean {
    if (this.#since === undefined) return false;
    const haltedMs = this.#now() - this.#since;
    this.#since = undefined;
    this.emit('recovered', { haltedMs });
    return true;
  }
}
