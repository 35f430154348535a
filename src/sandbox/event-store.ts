/**
 * What the sandbox accepted, shaped for million-event runs: the eventId -> slot map is the only
 * per-event object, acceptance times and 409 counts live in typed arrays, and bodies are kept only
 * for the most recent `keepBodies` events (as the raw JSON text, parsed again on inspection).
 */
export interface AcceptedEvent {
  readonly eventId: string;
  /** Wall-clock epoch milliseconds. */
  readonly acceptedAt: number;
  /** How many later calls with the same eventId were answered 409. */
  readonly conflicts: number;
  /** The body as received, or null when it fell out of the kept window. */
  readonly body: string | null;
}

export class EventStore {
  readonly keepBodies: number;
  readonly #slots = new Map<string, number>();
  #ids: string[] = [];
  #acceptedAt = new Float64Array(1024);
  #conflicts = new Uint32Array(1024);
  readonly #bodies = new Map<number, string>();
  #conflictTotal = 0;

  constructor(keepBodies: number) {
    this.keepBodies = keepBodies;
  }

  get size(): number {
    return this.#ids.length;
  }

  get conflictTotal(): number {
    return this.#conflictTotal;
  }

  has(eventId: string): boolean {
    return this.#slots.has(eventId);
  }

  add(eventId: string, acceptedAt: number, body: string): void {
    if (this.#slots.has(eventId)) throw new Error(`event ${eventId} is already stored`);
    const slot = this.#ids.length;
    if (slot === this.#acceptedAt.length) this.#grow();
    this.#slots.set(eventId, slot);
    this.#ids.push(eventId);
    this.#acceptedAt[slot] = acceptedAt;
    if (this.keepBodies > 0) {
      this.#bodies.set(slot, body);
      this.#bodies.delete(slot - this.keepBodies);
    }
  }

  /** Counts a 409 against the stored event; returns false when the event is unknown. */
  noteConflict(eventId: string): boolean {
    const slot = this.#slots.get(eventId);
    if (slot === undefined) return false;
    this.#conflicts[slot] = (this.#conflicts[slot] ?? 0) + 1;
    this.#conflictTotal += 1;
    return true;
  }

  get(eventId: string): AcceptedEvent | undefined {
    const slot = this.#slots.get(eventId);
    return slot === undefined ? undefined : this.#entry(slot);
  }

  /** Events in acceptance order, `offset` from the first. */
  list(offset: number, limit: number): AcceptedEvent[] {
    const end = Math.min(this.#ids.length, offset + limit);
    const events: AcceptedEvent[] = [];
    for (let slot = Math.max(0, offset); slot < end; slot += 1) events.push(this.#entry(slot));
    return events;
  }

  clear(): void {
    this.#slots.clear();
    this.#ids = [];
    this.#acceptedAt = new Float64Array(1024);
    this.#conflicts = new Uint32Array(1024);
    this.#bodies.clear();
    this.#conflictTotal = 0;
  }

  #entry(slot: number): AcceptedEvent {
    return {
      eventId: this.#ids[slot] as string,
      acceptedAt: this.#acceptedAt[slot] as number,
      conflicts: this.#conflicts[slot] as number,
      body: this.#bodies.get(slot) ?? null,
    };
  }

  #grow(): void {
    const acceptedAt = new Float64Array(this.#acceptedAt.length * 2);
    acceptedAt.set(this.#acceptedAt);
    this.#acceptedAt = acceptedAt;
    const conflicts = new Uint32Array(this.#conflicts.length * 2);
    conflicts.set(this.#conflicts);
    this.#conflicts = conflicts;
  }
}
