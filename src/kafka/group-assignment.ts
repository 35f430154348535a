import type { Clock } from '../shared/time.ts';
import type { RuntimeEvents } from './events.ts';
import type { FetchPauses } from './fetch-pauses.ts';
import type { OffsetTracker } from './offset-tracker.ts';
import { laneKey, type PartitionBuffer } from './partition-buffer.ts';

export interface GroupAssignmentOptions {
  readonly buffer: Pick<PartitionBuffer<unknown>, 'revokeAll' | 'assign'>;
  readonly pauses: FetchPauses;
  readonly tracker: OffsetTracker;
  readonly events: RuntimeEvents;
  readonly clock: Clock;
  /** Bounded wait for the calls on the wire of revoked partitions. */
  readonly revokeTimeoutMs: number;
  /** Records on the wire: Gong calls and dead-letter writes, and receipts not yet acknowledged. */
  readonly working: () => number;
  /** Resolves true if every in-flight record settled, and its receipt was acknowledged, within `ms`. */
  readonly waitForInFlight: (ms: number) => Promise<boolean>;
  /** Commits what settled (the commit scheduler's flush). */
  readonly flushCommits: () => Promise<void>;
  /** Joined or left the group: the readiness may have changed. */
  readonly onMembershipChange: () => void;
}

/**
 * Assignment and revoke: which partitions this member holds, and what happens when it loses
 * them. kafkajs has no revoke callback and uses the eager protocol (a rebalance revokes every
 * partition), so the runtime calls `revoke` the moment it learns of a rebalance, and `assigned`
 * at each GROUP_JOIN. See createRuntime's notes for how kafkajs is driven.
 */
export class GroupAssignment {
  readonly #options: GroupAssignmentOptions;
  /**
   * Partitions this member may commit: the latest assignment (plus any partition a batch came
   * from, which kafkajs only fetches when assigned). A revoke keeps them until the next
   * assignment is known, since until our JoinGroup nobody else can own them; after it, a
   * partition given to another member is never committed by this one.
   */
  #owned = new Set<string>();
  /** Counts assignments, so a revoke can tell whether the next one arrived while it ran. */
  #generation = 0;
  #joined = false;
  #joinedOnce = false;
  #revokeSinceJoin = false;
  #revoking: Promise<void> | undefined;

  constructor(options: GroupAssignmentOptions) {
    this.#options = options;
  }

  /** In the group with an assignment that no rebalance has revoked yet. */
  get joined(): boolean {
    return this.#joined;
  }

  /** The revoke in progress, if any: a new generation's batch waits for it. */
  get revoking(): Promise<void> | undefined {
    return this.#revoking;
  }

  /** The assignment the batches were fetched for is revoked (a rebalance since the last join). */
  get revokedSinceJoin(): boolean {
    return this.#revokeSinceJoin;
  }

  owns(topic: string, partition: number): boolean {
    return this.#owned.has(laneKey(topic, partition));
  }

  /** A batch came from this partition: kafkajs only fetches what is assigned to us. */
  fetchedFrom(topic: string, partition: number): void {
    this.#owned.add(laneKey(topic, partition));
  }

  /**
   * The consumer crashed: kafkajs has already left the group (it disconnects before it
   * restarts or gives up), so the partitions may be someone else's by now.
   */
  lost(): void {
    this.#owned = new Set();
  }

  /** kafkajs gave up on the consumer: out of the group for good. */
  left(): void {
    this.#joined = false;
    this.#options.onMembershipChange();
  }

  revoke(why: string): Promise<void> {
    if (this.#revoking !== undefined) return this.#revoking;
    // Already revoked for this rebalance (from eachBatch, before kafkajs emitted REBALANCING).
    if (this.#revokeSinceJoin) return Promise.resolve();
    const { buffer, pauses, events, clock } = this.#options;
    this.#revokeSinceJoin = true;
    this.#joined = false;
    this.#options.onMembershipChange();
    const started = clock.now();
    const revokedIn = this.#generation;
    pauses.set('revoke', true);
    // At once, before kafkajs goes on to rejoin: nothing of the old assignment may begin a call
    // or a dead-letter write from now on; queued records are dropped, whoever owns their
    // partition next fetches them again. Only what is already on the wire is waited for.
    const dropped = buffer.revokeAll(why);
    pauses.checkBackpressure();
    const before = this.#options.working();
    events.emit('rebalance', { phase: 'revoking', inFlight: before, dropped });
    this.#revoking = this.#settleRevoked(started, revokedIn, before).finally(() => {
      this.#revoking = undefined;
    });
    return this.#revoking;
  }

  /** The rest of a revoke: wait for the calls on the wire, commit, carry what was not committed. */
  async #settleRevoked(started: number, revokedIn: number, before: number): Promise<void> {
    const { tracker, pauses, events, clock } = this.#options;
    const drained = await this.#options.waitForInFlight(this.#options.revokeTimeoutMs);
    const abandoned = drained ? 0 : this.#options.working();
    await this.#options.flushCommits();
    // Settled records the commit did not cover (it was refused, lost, or the partition now
    // belongs to another member) are carried over, so that a repeat of the same record after
    // the rejoin is not sent again.
    for (const { topic, partition } of tracker.partitions()) tracker.forget(topic, partition);
    // If the next assignment arrived while this revoke ran, what it no longer holds must not
    // be carried: GROUP_JOIN pruned before these were added.
    if (this.#generation !== revokedIn)
      tracker.retainCarried((topic, partition) => this.owns(topic, partition));
    pauses.set('revoke', false);
    events.emit('rebalance', {
      phase: 'revoked',
      settled: before - abandoned,
      abandoned,
      durationMs: clock.now() - started,
    });
  }

  assigned(partitions: { topic: string; partition: number }[]): void {
    const { buffer, pauses, tracker, events } = this.#options;
    // Kicked out and rejoined without a REBALANCING event (session timeout): treat the old
    // assignment as revoked all the same.
    if (this.#joinedOnce && !this.#revokeSinceJoin) void this.revoke('rejoined without a rebalance event');
    this.#joinedOnce = true;
    this.#revokeSinceJoin = false;
    this.#generation += 1;
    this.#owned = new Set(partitions.map(({ topic, partition }) => laneKey(topic, partition)));
    buffer.assign(partitions);
    // What was carried for a partition now owned by another member is dropped: it only serves
    // the repeats right after a rejoin, and a partition that comes back later is worked from the
    // group's offset alone.
    tracker.retainCarried((topic, partition) => this.owns(topic, partition));
    this.#joined = true;
    // A restarted kafkajs consumer starts with nothing paused.
    pauses.assigned(partitions.length);
    events.emit('rebalance', { phase: 'assigned', partitions });
    this.#options.onMembershipChange();
  }
}
