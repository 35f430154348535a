import type { GongCallResult } from '../gong/client.ts';
import type { HaltReason } from './outcome-policy.ts';

/**
 * A spell during which no record calls Gong on its own, because whatever is wrong is shared by
 * every record: a halt (credentials refused, a wrong endpoint, a proxy, the rejection breaker) or
 * an outage (Gong or the way to it failing call after call). Callers park here; the engine's probe
 * loop makes one call at a time until one proves the cause gone, and then every caller resumes.
 *
 * The probe uses the body of the longest-waiting caller, so it is real work rather than a wasted
 * call, or, when every caller has left (a rebalance aborts parked callers, and a halted runtime
 * fetches nothing new), the body whose call started the suspension. A probe without a caller
 * settles nothing, but it still proves whether Gong takes calls again.
 */
export type SuspensionKind = 'halt' | 'outage';
export type SuspensionReason = HaltReason | 'gong-unavailable';

/** What a parked caller receives: nothing (call again yourself), or the answer to its own body. */
export interface ParkedResult {
  readonly result: GongCallResult;
  /**
   * True when the probe loop already judged this answer for everyone (it ended the suspension);
   * false when the suspension ended while the probe was out, and the answer is the caller's to judge.
   */
  readonly judged: boolean;
}

export class ParkedCaller {
  readonly body: string;
  readonly signal: AbortSignal | undefined;
  owner: Suspension | undefined;
  /** Its body is out as a probe right now. */
  probing = false;
  readonly #resolve: (value: ParkedResult | undefined) => void;
  readonly #reject: (error: unknown) => void;
  readonly #onAbort: () => void;
  #settled = false;

  constructor(
    owner: Suspension,
    body: string,
    signal: AbortSignal | undefined,
    resolve: (value: ParkedResult | undefined) => void,
    reject: (error: unknown) => void,
  ) {
    this.owner = owner;
    this.body = body;
    this.signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    // An aborted caller (shutdown, revoke) leaves the line; the engine turns the reason into
    // SHUTTING_DOWN. A probe already out with its body still finishes, and settles nothing.
    this.#onAbort = () => this.fail(signal?.reason);
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get settled(): boolean {
    return this.#settled;
  }

  resume(value: ParkedResult | undefined): void {
    if (this.#finish()) this.#resolve(value);
  }

  fail(error: unknown): void {
    if (this.#finish()) this.#reject(error);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.owner?.remove(this);
    this.owner = undefined;
    this.signal?.removeEventListener('abort', this.#onAbort);
    return true;
  }
}

export class Suspension {
  readonly kind: SuspensionKind;
  reason: SuspensionReason;
  /** Monotonic ms. */
  readonly since: number;
  /** The body whose call started the suspension: the probe when no caller waits. */
  readonly body: string;
  /** For the rejection breaker: the rejection that tripped it (status and errors, digits folded). */
  readonly rejectionKey: string | undefined;
  probes = 0;
  /** Probes whose answer kept the suspension going; the wait between probes grows with them. */
  failedProbes = 0;
  readonly #callers: ParkedCaller[] = [];

  constructor(
    kind: SuspensionKind,
    reason: SuspensionReason,
    since: number,
    body: string,
    rejectionKey?: string,
  ) {
    this.kind = kind;
    this.reason = reason;
    this.since = since;
    this.body = body;
    this.rejectionKey = rejectionKey;
  }

  get waiting(): number {
    return this.#callers.length;
  }

  /** Resolves when the suspension is over (see ParkedResult); rejects when the caller aborts. */
  park(body: string, signal: AbortSignal | undefined): Promise<ParkedResult | undefined> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      this.#callers.push(new ParkedCaller(this, body, signal, resolve, reject));
    });
  }

  /** A parked caller aborted (shutdown, revoke): it leaves the line. */
  remove(caller: ParkedCaller): void {
    const index = this.#callers.indexOf(caller);
    if (index >= 0) this.#callers.splice(index, 1);
  }

  /** The longest-waiting caller not already out as a probe; marked as probing. */
  takeProbe(): ParkedCaller | undefined {
    const caller = this.#callers.find((candidate) => !candidate.probing && !candidate.settled);
    if (caller !== undefined) caller.probing = true;
    return caller;
  }

  /**
   * The probe did not end the suspension: its caller goes on waiting, at the back of the line, so
   * the next probe tries another body (one bad body must not keep the rejection breaker shut).
   */
  requeue(caller: ParkedCaller | undefined): void {
    if (caller === undefined) return;
    caller.probing = false;
    if (caller.settled || caller.owner !== this) return;
    this.remove(caller);
    this.#callers.push(caller);
  }

  /**
   * Over: every caller resumes and calls on its own. The probe's own caller gets the probe's
   * answer instead when it settles that record (so the record is not sent twice). A caller whose
   * body is still out as a probe is left to the probe loop, which hands it the answer when it
   * arrives.
   */
  end(probe?: { caller: ParkedCaller | undefined; result: GongCallResult | undefined }): void {
    for (const caller of this.#callers.splice(0)) {
      if (caller === probe?.caller) {
        caller.resume(probe.result === undefined ? undefined : { result: probe.result, judged: true });
      } else if (caller.probing) {
        caller.owner = undefined;
      } else {
        caller.resume(undefined);
      }
    }
  }

  /** Every caller, the one out as a probe too, gets `error` (a bug, or shutdown). */
  fail(error: unknown, probe?: ParkedCaller): void {
    for (const caller of this.#callers.splice(0)) caller.fail(error);
    probe?.fail(error);
  }

  /** The callers move to `next` in their order (an outage turning out to be a halt). */
  moveTo(next: Suspension): void {
    for (const caller of this.#callers.splice(0)) {
      caller.owner = next;
      next.#callers.push(caller);
    }
  }
}
