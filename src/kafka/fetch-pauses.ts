import type { Consumer } from 'kafkajs';
import type { Clock } from '../delivery/limiter-types.ts';
import type { PauseReason, RuntimeEvents } from './events.ts';
import type { TopicPartition } from './offset-tracker.ts';
import type { BackpressureChange } from './partition-buffer.ts';

/**
 * Which partitions kafkajs may fetch. Two kinds of reason stop fetching:
 *
 *  - reasons that stop every partition (an auth halt, the daily quota, a revoke, shutdown):
 *    the whole topics are paused; they overlap, and fetching resumes only when none is left;
 *  - a partition whose share of the buffer is full (backpressure): that partition alone.
 *
 * kafkajs' resume of a whole topic also lifts its partition pauses, and a consumer kafkajs
 * restarts starts with nothing paused, so `apply()` makes kafkajs' state match this one again.
 * kafkajs refuses pause and resume before run() and while it restarts a crashed consumer (it
 * throws "Consumer group was not initialized"); meanwhile the state is only recorded, and the
 * next assignment applies it.
 */
export interface FetchPausesOptions {
  readonly topics: readonly string[];
  readonly consumer: Pick<Consumer, 'pause' | 'resume'>;
  /** The partitions whose lane is full now, and the changes since the last look. */
  readonly lanes: {
    fullLanes(): readonly TopicPartition[];
    backpressure(): BackpressureChange<unknown>;
  };
  readonly clock: Pick<Clock, 'now'>;
  readonly events: Pick<RuntimeEvents, 'emit'>;
}

/** kafkajs' pause/resume argument for some partitions. */
function byTopic(partitions: readonly TopicPartition[]) {
  const grouped = new Map<string, number[]>();
  for (const { topic, partition } of partitions)
    grouped.set(topic, [...(grouped.get(topic) ?? []), partition]);
  return [...grouped].map(([topic, list]) => ({ topic, partitions: list }));
}

export class FetchPauses {
  readonly #options: FetchPausesOptions;
  readonly #reasons = new Map<PauseReason, number>();
  #since = 0;
  #backpressureSince: number | undefined;
  #active = false;
  /** Partitions of the current assignment: a whole-topic pause stops all of them. */
  #assigned = 0;

  constructor(options: FetchPausesOptions) {
    this.#options = options;
  }

  get #allTopics() {
    return this.#options.topics.map((topic) => ({ topic }));
  }

  /** kafkajs now accepts pause and resume (consumer.run was called); applies what was recorded. */
  activate(): void {
    this.#active = true;
    if (this.#reasons.size > 0) this.#kafkajs('pause', this.#allTopics);
  }

  /** kafkajs crashed: its consumer group is gone until it has restarted and joined again. */
  suspend(): void {
    this.#active = false;
  }

  /** A new assignment of `partitions` partitions; kafkajs' state is made to match ours. */
  assigned(partitions: number): void {
    this.#assigned = partitions;
    this.#active = true;
    this.apply();
  }

  /**
   * Calls kafkajs' pause or resume. These run inside kafkajs' own event listeners too, where a
   * throw would break kafkajs' crash handling; a refusal means its consumer group is gone, and
   * the next assignment applies the state again.
   */
  #kafkajs(call: 'pause' | 'resume', topics: { topic: string; partitions?: number[] }[]): void {
    if (!this.#active) return;
    try {
      this.#options.consumer[call](topics);
    } catch {
      this.#active = false;
    }
  }

  set(reason: Exclude<PauseReason, 'backpressure'>, on: boolean): void {
    const { clock, events } = this.#options;
    if (on) {
      if (this.#reasons.has(reason)) return;
      if (this.#reasons.size === 0) {
        this.#since = clock.now();
        this.#kafkajs('pause', this.#allTopics);
      }
      this.#reasons.set(reason, clock.now());
      events.emit('paused', { reason, partitions: this.#assigned });
      return;
    }
    if (!this.#reasons.delete(reason)) return;
    if (this.#reasons.size === 0) {
      this.apply();
      events.emit('resumed', { reason, pausedMs: clock.now() - this.#since });
    }
  }

  /** Makes kafkajs' pause state match ours (after a resume, a new assignment, a restart). */
  apply(): void {
    if (this.#reasons.size > 0) {
      this.#kafkajs('pause', this.#allTopics);
      return;
    }
    this.#kafkajs('resume', this.#allTopics);
    const full = this.#options.lanes.fullLanes();
    if (full.length > 0) this.#kafkajs('pause', byTopic(full));
  }

  /** Pauses the partitions whose lane just filled up, resumes those that drained. */
  checkBackpressure(): void {
    const { clock, events, lanes } = this.#options;
    const { pause, resume } = lanes.backpressure();
    if (pause.length === 0 && resume.length === 0) return;
    if (this.#reasons.size === 0) {
      if (pause.length > 0) this.#kafkajs('pause', byTopic(pause));
      if (resume.length > 0) this.#kafkajs('resume', byTopic(resume));
    }
    const full = lanes.fullLanes().length;
    if (full > 0 && this.#backpressureSince === undefined) {
      this.#backpressureSince = clock.now();
      events.emit('paused', { reason: 'backpressure', partitions: full });
    } else if (full === 0 && this.#backpressureSince !== undefined) {
      events.emit('resumed', { reason: 'backpressure', pausedMs: clock.now() - this.#backpressureSince });
      this.#backpressureSince = undefined;
    }
  }

  /** Assigned partitions whose fetching is paused, for whatever reason. */
  pausedPartitions(): number {
    return this.#reasons.size > 0 ? this.#assigned : this.#options.lanes.fullLanes().length;
  }
}
